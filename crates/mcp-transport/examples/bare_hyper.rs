//! The ceiling `cargo xtask bench` measures `mcp-server` against: a bare hyper 1 HTTP/1.1
//! server with no security at all. It reads the body, parses the JSON-RPC request once with
//! `serde_json` (borrowing: `&str` and `RawValue`, as our hot path does) and answers every
//! request with the fixed `tools/call calculate` result, in one write, with `TCP_NODELAY`.
//!
//! ```text
//! cargo run --release -p mcp-transport --example bare_hyper -- --listen 127.0.0.1:8080
//! ```
//!
//! It runs the same multi-thread runtime as `mcp-server` (`TOKIO_WORKER_THREADS` applies).

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::net::TcpListener;

/// The JSON-RPC request, borrowed from the body.
#[derive(Debug, Deserialize)]
struct RpcRequest<'a> {
    #[serde(borrow)]
    jsonrpc: &'a str,
    #[serde(borrow)]
    id: &'a RawValue,
    #[serde(borrow)]
    method: &'a str,
    #[serde(borrow, default)]
    params: Option<&'a RawValue>,
}

const RESULT_TAIL: &str = r#","result":{"content":[{"type":"text","text":"5"}],"structuredContent":{"result":5.0}}}"#;

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// The fixed result for a well-formed request, 400 otherwise.
fn answer(body: &[u8]) -> Response<Full<Bytes>> {
    match serde_json::from_slice::<RpcRequest<'_>>(body) {
        Ok(req) if req.jsonrpc == "2.0" && !req.method.is_empty() && req.params.is_some() => {
            let id = req.id.get();
            let mut out = Vec::with_capacity(24 + id.len() + RESULT_TAIL.len());
            out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
            out.extend_from_slice(id.as_bytes());
            out.extend_from_slice(RESULT_TAIL.as_bytes());
            json_response(StatusCode::OK, out)
        }
        _ => json_response(
            StatusCode::BAD_REQUEST,
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#.to_vec(),
        ),
    }
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match req.into_body().collect().await {
        Ok(body) => answer(&body.to_bytes()),
        Err(_) => json_response(StatusCode::BAD_REQUEST, Vec::new()),
    })
}

async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    eprintln!("bare_hyper listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let conn =
                http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service_fn(handle));
            let _ = conn.await;
        });
    }
}

fn listen_arg() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:8080".to_string();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => addr = args.next().ok_or("--listen needs an address")?,
            other => return Err(format!("unknown argument {other} (usage: bare_hyper [--listen ADDR])")),
        }
    }
    addr.parse().map_err(|e| format!("--listen {addr}: {e}"))
}

fn main() -> std::process::ExitCode {
    let result = listen_arg().and_then(|addr| {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
        rt.block_on(serve(addr)).map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bare_hyper: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
