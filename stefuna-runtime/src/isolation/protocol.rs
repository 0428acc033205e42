//! The pipe protocol between the worker and its children: frames of a 4-byte big-endian length
//! and a JSON message, at most [`MAX_FRAME`] bytes, over the Unix socket that is the child's
//! stdin. The child reads it with blocking I/O (a thread that must work while the runtime is
//! stuck in user code); the parent with tokio.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The largest frame either side accepts. Inputs and outputs are at most 262,144 bytes of JSON
/// (an output over that is turned into `Stefuna.OutputTooLarge` in the child); escaped inside a
/// JSON string they can grow up to 6×, and the configuration sent at start is small.
pub(crate) const MAX_FRAME: usize = 2 * 1024 * 1024;

/// Parent to child.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ToChild {
    /// The first frame: what the child runs and the configuration its init hooks read.
    Hello {
        /// The activity's name (a binary may host several).
        activity: String,
        /// The activity's ARN, for `Context::activity_arn`.
        arn: String,
        /// The parent's worker name.
        worker_name: String,
        /// The whole configuration, serialized.
        config: serde_json::Value,
    },
    /// Run one task.
    Task {
        /// The task token, for `Context::token`.
        token: String,
        /// The task's input JSON.
        input: String,
    },
    /// The task was lost or the worker is shutting down: fire `Context::cancelled()`.
    Cancel,
}

/// Child to parent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ToParent {
    /// The init hooks ran; the child takes tasks.
    Ready,
    /// An init hook failed; the child exits.
    InitFailed {
        /// The error, on one line.
        message: String,
    },
    /// `Context::heartbeat()` was called.
    Heartbeat,
    /// The task ended: its output JSON, or the error for `SendTaskFailure`.
    Done {
        /// Output JSON when it succeeded.
        output: Option<String>,
        /// Error name when it failed.
        error: Option<String>,
        /// Error cause when it failed.
        cause: Option<String>,
    },
}

fn too_large(len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("a frame of {len} bytes is over the protocol's limit of {MAX_FRAME}"),
    )
}

fn encode<T: Serialize>(msg: &T) -> io::Result<Vec<u8>> {
    let body = serde_json::to_vec(msg)?;
    if body.len() > MAX_FRAME {
        return Err(too_large(body.len()));
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(
        &u32::try_from(body.len())
            .map_err(|_| too_large(body.len()))?
            .to_be_bytes(),
    );
    frame.extend_from_slice(&body);
    Ok(frame)
}

fn decode<T: for<'de> Deserialize<'de>>(body: &[u8]) -> io::Result<T> {
    serde_json::from_slice(body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Writes one message (blocking).
pub(crate) fn write_sync<T: Serialize>(w: &mut impl Write, msg: &T) -> io::Result<()> {
    w.write_all(&encode(msg)?)?;
    w.flush()
}

/// Reads one message (blocking); `None` when the other side closed the socket.
pub(crate) fn read_sync<T: for<'de> Deserialize<'de>>(r: &mut impl Read) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(too_large(len));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    decode(&body).map(Some)
}

/// Writes one message.
pub(crate) async fn write<T: Serialize>(
    w: &mut (impl tokio::io::AsyncWrite + Unpin),
    msg: &T,
) -> io::Result<()> {
    w.write_all(&encode(msg)?).await?;
    w.flush().await
}

/// Reads one message; `None` when the other side closed the socket. Cancel-safe only between
/// frames: callers keep the reader in one place and never drop a read halfway.
pub(crate) async fn read<T: for<'de> Deserialize<'de>>(
    r: &mut (impl tokio::io::AsyncRead + Unpin),
) -> io::Result<Option<T>> {
    let len = match r.read_u32().await {
        Ok(n) => n as usize,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    if len > MAX_FRAME {
        return Err(too_large(len));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    decode(&body).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_oversized_frames_are_refused() {
        let mut buf = Vec::new();
        write_sync(
            &mut buf,
            &ToChild::Task {
                token: "t".into(),
                input: "{\"a\":\"\\u0000\"}".into(),
            },
        )
        .unwrap();
        write_sync(&mut buf, &ToParent::Heartbeat).unwrap();
        let mut r = io::Cursor::new(buf);
        match read_sync::<ToChild>(&mut r).unwrap() {
            Some(ToChild::Task { token, input }) => assert_eq!(
                (token.as_str(), input.as_str()),
                ("t", "{\"a\":\"\\u0000\"}")
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_sync::<ToParent>(&mut r).unwrap(),
            Some(ToParent::Heartbeat)
        ));
        assert!(read_sync::<ToParent>(&mut r).unwrap().is_none());

        let mut huge = ((MAX_FRAME + 1) as u32).to_be_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        let e = read_sync::<ToParent>(&mut io::Cursor::new(huge)).unwrap_err();
        assert!(e.to_string().contains("limit"), "{e}");
        let big = ToChild::Task {
            token: String::new(),
            input: "x".repeat(MAX_FRAME),
        };
        assert!(write_sync(&mut Vec::new(), &big).is_err());
    }
}
