//! A light awsJson1_0 client: one keep-alive HTTP/1.1 connection, fixed SigV4-looking headers
//! (the emulator reads the region from them and checks no signature), bodies written with
//! `format!`. It spends a few microseconds per call where the SDK spends tens (signing,
//! interceptors, retry classification), so the emulator's own cost is what the figure shows.

use std::net::SocketAddr;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The header block every request carries after its target.
const FIXED_HEADERS: &str = "Content-Type: application/x-amz-json-1.0\r\n\
X-Amz-Date: 20260101T000000Z\r\n\
Authorization: AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/states/aws4_request, \
SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
Signature=0000000000000000000000000000000000000000000000000000000000000000\r\n";

/// One connection.
pub struct Light {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
    request: Vec<u8>,
    line: String,
}

/// An answer: status and body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body parsed as `T`, or a panic naming the operation and the answer.
    pub fn json<'a, T: Deserialize<'a>>(&'a self, op: &str) -> T {
        if self.status != 200 {
            panic!(
                "{op} answered {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            );
        }
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{op} answered a body that is not the expected JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

impl Light {
    /// A client for `addr`; connects on first use.
    pub fn new(addr: SocketAddr) -> Light {
        Light {
            addr,
            conn: None,
            request: Vec::with_capacity(1024),
            line: String::new(),
        }
    }

    /// Calls `AWSStepFunctions.<op>` with a JSON body.
    pub async fn call(&mut self, op: &str, body: &str) -> Answer {
        // No retry: the emulator keeps connections open, and a failed call is a bench failure.
        self.try_call(op, body)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    async fn try_call(&mut self, op: &str, body: &str) -> std::io::Result<Answer> {
        if self.conn.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.conn = Some(BufReader::new(s));
        }
        let conn = self.conn.as_mut().expect("connected");
        self.request.clear();
        use std::io::Write;
        write!(
            self.request,
            "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: AWSStepFunctions.{op}\r\n{FIXED_HEADERS}Content-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )?;
        self.request.extend_from_slice(body.as_bytes());
        conn.get_mut().write_all(&self.request).await?;

        // Status line, headers, then exactly Content-Length bytes.
        self.line.clear();
        if conn.read_line(&mut self.line).await? == 0 {
            return Err(std::io::Error::other("connection closed before an answer"));
        }
        let status: u16 = self
            .line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {:?}", self.line)))?;
        let mut length = None;
        loop {
            self.line.clear();
            if conn.read_line(&mut self.line).await? == 0 {
                return Err(std::io::Error::other("connection closed inside the head"));
            }
            let line = self.line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    return Err(std::io::Error::other(
                        "chunked answers are not supported by the light client",
                    ));
                }
            }
        }
        let length =
            length.ok_or_else(|| std::io::Error::other("answer without content-length"))?;
        let mut body = vec![0; length];
        conn.read_exact(&mut body).await?;
        Ok(Answer { status, body })
    }
}
