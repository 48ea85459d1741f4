//! Shared by the transport's end-to-end tests.

use std::net::SocketAddr;
use std::sync::Arc;

use mcp_transport::http::HttpServer;
use mcp_transport::{HttpConfig, HttpHandler};

/// Bind `cfg` (its `listen` set to an ephemeral loopback port) and serve `handler` on a task.
/// The server runs until the returned sender is dropped or fired.
pub async fn start<H: HttpHandler>(cfg: HttpConfig, handler: H) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let cfg = HttpConfig { listen: "127.0.0.1:0".parse().expect("loopback address"), ..cfg };
    let server = HttpServer::bind(cfg).await.expect("bind an ephemeral loopback port");
    let addr = server.local_addr().expect("bound address");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(Arc::new(handler), async move {
        let _ = rx.await;
    }));
    (addr, tx)
}
