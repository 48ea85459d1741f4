//! The end of keep-alive connections: a quiet one is closed after the idle timeout, a busy one
//! is kept, and every open one is closed when the server stops.
#![allow(clippy::unwrap_used)]

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use http::Response;
use mcp_transport::{Body, HttpConfig, HttpHandler, IncomingRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Ok200;

impl HttpHandler for Ok200 {
    fn handle(&self, _req: IncomingRequest) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + 'static>> {
        Box::pin(async { Response::new(Body::full("ok")) })
    }
}

async fn serve(idle_secs: u64) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    common::start(HttpConfig { idle_timeout_secs: idle_secs, ..Default::default() }, Ok200).await
}

/// One keep-alive request on `s`; the whole response is read (it is small: one read suffices
/// once its end is seen).
async fn request(s: &mut TcpStream) {
    s.write_all(b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\n\r\n").await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"ok") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "connection closed during a request");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&got));
}

/// The server closes `s` within 10 s, without sending anything more.
async fn assert_closed(s: &mut TcpStream, what: &str) {
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("{what} was not closed within 10 s"))
        .unwrap_or(0);
    assert_eq!(n, 0, "{what} was closed without sending anything more");
}

#[tokio::test]
async fn a_quiet_connection_is_closed_and_a_busy_one_is_kept() {
    let (addr, _stop) = serve(2).await;

    // Busy: a request every 200 ms for 5 s (two and a half idle periods) keeps it open.
    let mut busy = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        request(&mut busy).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    request(&mut busy).await;

    // Quiet after one request: the server closes it (idle is 2 s; the check runs every 1 s).
    let mut quiet = TcpStream::connect(addr).await.unwrap();
    request(&mut quiet).await;
    assert_closed(&mut quiet, "the idle connection").await;
}

#[tokio::test]
async fn stopping_the_server_closes_open_connections() {
    let cfg = HttpConfig { idle_timeout_secs: 600, ..Default::default() };
    let (addr, stop, served) = common::start_joined(cfg, Ok200).await;
    let mut open = TcpStream::connect(addr).await.unwrap();
    request(&mut open).await;
    stop.send(()).unwrap();
    // Long before the idle timeout, the connection is drained and closed...
    assert_closed(&mut open, "the open connection, after the stop,").await;
    // ...and the server returns without waiting out its 30 s grace for connections.
    tokio::time::timeout(Duration::from_secs(10), served).await.expect("serve did not return within 10 s").unwrap();
}
