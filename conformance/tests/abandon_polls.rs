//! `ServerBuilder::abandon_polls_on_shutdown`, which lets the LocalStack suite stop its workers
//! without waiting out 60 s long polls: against an endpoint that takes a `GetActivityTask` and
//! never answers, the shutdown future ends the server and closes the poll's connection (without
//! the flag the server would wait for the poll's 70 s read timeout).

use std::sync::Arc;
use std::time::Duration;

use stefuna_conformance::Endpoint;
use stefuna_core::{Activity, Context, Invocation};
use stefuna_runtime::{Config, Server};
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// Never receives a task: the endpoint never answers.
struct Idle;

impl Activity for Idle {
    fn name(&self) -> &str {
        "Idle"
    }
    fn invoke(self: Arc<Self>, _input: String, _ctx: Context) -> Invocation {
        Invocation::Async(Box::pin(async { Ok("{}".to_owned()) }))
    }
}

/// What the silent endpoint saw on one connection.
#[derive(Debug, PartialEq)]
enum Seen {
    /// A `GetActivityTask` request arrived.
    Poll,
    /// The client closed a connection that carried a poll.
    PollClosed,
}

/// An endpoint on 127.0.0.1 that reads requests and never answers.
async fn silent_endpoint() -> (String, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (mut seen, mut buf, mut poll) = (Vec::new(), [0u8; 4096], false);
                loop {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                    if !poll && String::from_utf8_lossy(&seen).contains("GetActivityTask") {
                        poll = true;
                        let _ = tx.send(Seen::Poll);
                    }
                }
                if poll {
                    let _ = tx.send(Seen::PollClosed);
                }
            });
        }
    });
    (url, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_up_an_open_poll_when_asked() {
    let (url, mut seen) = silent_endpoint().await;
    let ep = Endpoint::aws_like(url.clone(), "123456789012");
    let config = {
        let mut c = Config::default();
        c.activity_arn = Some("arn:aws:states:us-east-1:123456789012:activity:idle".into());
        c.processes = 1;
        c.healthcheck = 0;
        c.region = Some(ep.region.clone());
        c.endpoint_url = Some(url);
        c
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .activity(Idle)
            .config(config)
            .client(ep.client())
            .abandon_polls_on_shutdown(true)
            .shutdown(async move {
                let _ = stopped.await;
            })
            .run(),
    );
    assert_eq!(
        seen.recv().await,
        Some(Seen::Poll),
        "the worker never polled"
    );
    stop.send(()).expect("the server is running");
    // A bound, not a speed check: without the flag the server waits for the 70 s read timeout.
    let res = tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("the server waited for the open poll instead of giving it up");
    res.expect("the server task panicked")
        .expect("the server failed");
    assert_eq!(
        seen.recv().await,
        Some(Seen::PollClosed),
        "the open poll's connection was not closed"
    );
}
