//! Shared by the transport's end-to-end tests.
#![allow(dead_code)] // each test binary uses its own part

use std::net::SocketAddr;
use std::sync::Arc;

use mcp_transport::http::HttpServer;
use mcp_transport::{HttpConfig, HttpHandler};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Bind `cfg` (its `listen` set to an ephemeral loopback port) and serve `handler` on a task.
/// The server runs until the returned sender is dropped or fired.
pub async fn start<H: HttpHandler>(cfg: HttpConfig, handler: H) -> (SocketAddr, oneshot::Sender<()>) {
    let (addr, stop, _served) = start_joined(cfg, handler).await;
    (addr, stop)
}

/// [`start`], also returning the serving task: it ends once the server has stopped and its
/// connections are closed.
pub async fn start_joined<H: HttpHandler>(
    cfg: HttpConfig,
    handler: H,
) -> (SocketAddr, oneshot::Sender<()>, JoinHandle<()>) {
    let cfg = HttpConfig { listen: "127.0.0.1:0".parse().expect("loopback address"), ..cfg };
    let server = HttpServer::bind(cfg).await.expect("bind an ephemeral loopback port");
    let addr = server.local_addr().expect("bound address");
    let (tx, rx) = oneshot::channel::<()>();
    let served = tokio::spawn(server.serve(Arc::new(handler), async move {
        let _ = rx.await;
    }));
    (addr, tx, served)
}
