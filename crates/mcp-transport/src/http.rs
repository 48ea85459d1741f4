//! The HTTP listener: accept loop, connection cap, timeouts, guards, body limit.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::body::Body;
use crate::config::HttpConfig;
use crate::guard::{Guard, Refusal};
use crate::tls::TlsReloader;

/// A request whose body has been read within the limits.
#[derive(Debug)]
pub struct IncomingRequest {
    /// Method, URI, headers.
    pub parts: Parts,
    /// The whole body.
    pub body: Bytes,
    /// Remote address.
    pub peer: SocketAddr,
    /// TLS details when the connection is HTTPS.
    pub tls: Option<Arc<TlsInfo>>,
}

/// What the TLS handshake established.
#[derive(Debug, Default)]
pub struct TlsInfo {
    /// DER of the verified client certificate (mutual TLS), leaf only.
    pub client_cert_der: Option<Vec<u8>>,
    /// Negotiated protocol, e.g. `TLSv1_3`.
    pub protocol: Option<String>,
    /// Negotiated cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: Option<String>,
}

/// Why the transport refused a request before the handler saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// `Host` not in the allow-list (DNS rebinding).
    Host,
    /// `Origin` not in the allow-list.
    Origin,
    /// Body larger than `max_message_size`.
    TooLarge,
    /// Body not received within the request timeout.
    BodyTimeout,
    /// The body could not be read (client went away or sent garbage framing).
    BodyError,
    /// The handler did not answer within the request timeout.
    HandlerTimeout,
    /// The TLS handshake failed (no, untrusted, expired or revoked client certificate, old
    /// protocol version, ...). The connection is closed without an HTTP answer.
    TlsHandshake,
    /// `max_concurrent_connections` reached.
    ConnectionLimit,
}

impl Rejection {
    /// Static reason for logs and security events.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Host => "host not allowed",
            Self::Origin => "origin not allowed",
            Self::TooLarge => "body too large",
            Self::BodyTimeout => "body not received in time",
            Self::BodyError => "body could not be read",
            Self::HandlerTimeout => "no response in time",
            Self::TlsHandshake => "TLS handshake failed",
            Self::ConnectionLimit => "connection limit reached",
        }
    }

    fn status_and_message(self) -> (StatusCode, &'static str) {
        match self {
            Self::Host => (StatusCode::FORBIDDEN, "Forbidden: Host header not allowed"),
            Self::Origin => (StatusCode::FORBIDDEN, "Forbidden: Origin not allowed"),
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "Message too large"),
            Self::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, "Request body not received in time"),
            Self::BodyError => (StatusCode::BAD_REQUEST, "Request body could not be read"),
            Self::HandlerTimeout => (StatusCode::GATEWAY_TIMEOUT, "Request timed out"),
            Self::TlsHandshake => (StatusCode::BAD_REQUEST, "TLS handshake failed"),
            Self::ConnectionLimit => (StatusCode::SERVICE_UNAVAILABLE, "Too many connections"),
        }
    }
}

/// The application behind the transport.
pub trait HttpHandler: Send + Sync + 'static {
    /// Produce the response. Security headers are added afterwards.
    fn handle(&self, req: IncomingRequest) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + 'static>>;

    /// Told about every request the transport refused (to emit a security event).
    fn rejected(&self, _peer: SocketAddr, _why: Rejection) {}
}

/// A JSON-RPC error response with `id: null`.
pub fn json_error(status: StatusCode, code: i64, message: &str) -> Response<Body> {
    let body = format!(r#"{{"jsonrpc":"2.0","id":null,"error":{{"code":{code},"message":{}}}}}"#, json_string(message));
    let mut resp = Response::new(Body::full(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Activity of one connection, for the idle timeout: counters only, so that a request costs no
/// clock read here (the idle check compares them between its ticks).
#[derive(Debug, Default)]
struct ConnActivity {
    inflight: AtomicUsize,
    finished: AtomicU64,
}

/// Held while a request (or its streaming body) is open.
struct Inflight(Arc<ConnActivity>);

impl Inflight {
    fn new(a: &Arc<ConnActivity>) -> Self {
        a.inflight.fetch_add(1, Ordering::Relaxed);
        Self(a.clone())
    }
}

impl Drop for Inflight {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::Relaxed);
        self.0.inflight.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Shared<H> {
    cfg: HttpConfig,
    guard: Guard,
    handler: Arc<H>,
}

/// The JSON-RPC code used for transport refusals.
const INVALID_REQUEST: i64 = -32600;
const TIMEOUT_CODE: i64 = -32051;
const CAPACITY_CODE: i64 = -32052;

impl<H: HttpHandler> Shared<H> {
    fn refuse(&self, peer: SocketAddr, why: Rejection, cors: Option<&HeaderValue>) -> Response<Body> {
        self.handler.rejected(peer, why);
        tracing::debug!(%peer, reason = why.reason(), "request refused by transport");
        let (status, msg) = why.status_and_message();
        let code = match why {
            Rejection::HandlerTimeout | Rejection::BodyTimeout => TIMEOUT_CODE,
            Rejection::ConnectionLimit => CAPACITY_CODE,
            _ => INVALID_REQUEST,
        };
        let mut resp = json_error(status, code, msg);
        if matches!(why, Rejection::TooLarge | Rejection::BodyError | Rejection::BodyTimeout) {
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        self.guard.decorate(resp.headers_mut(), cors);
        resp
    }

    async fn serve(
        self: Arc<Self>,
        req: http::Request<Incoming>,
        peer: SocketAddr,
        tls: Option<Arc<TlsInfo>>,
        activity: Arc<ConnActivity>,
    ) -> Response<Body> {
        let inflight = Inflight::new(&activity);
        let (parts, body) = req.into_parts();
        if self.guard.check_host(&parts).is_err() {
            return self.refuse(peer, Rejection::Host, None);
        }
        let cors = match self.guard.check_origin(&parts) {
            Ok(c) => c,
            Err(Refusal::Origin) | Err(Refusal::Host) => {
                return self.refuse(peer, Rejection::Origin, None);
            }
        };
        if parts.method == Method::OPTIONS && cors.is_some() {
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            self.guard.preflight(resp.headers_mut());
            self.guard.decorate(resp.headers_mut(), cors.as_ref());
            return resp;
        }
        let max = self.cfg.max_message_size;
        let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return self.refuse(peer, Rejection::TooLarge, cors.as_ref());
        }
        let deadline = tokio::time::Instant::now() + self.cfg.request_timeout();
        let bytes = match tokio::time::timeout_at(deadline, Limited::new(body, max).collect()).await {
            Ok(Ok(c)) => c.to_bytes(),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                return self.refuse(peer, Rejection::TooLarge, cors.as_ref());
            }
            Ok(Err(_)) => return self.refuse(peer, Rejection::BodyError, cors.as_ref()),
            Err(_) => return self.refuse(peer, Rejection::BodyTimeout, cors.as_ref()),
        };
        let fut = self.handler.handle(IncomingRequest { parts, body: bytes, peer, tls });
        let mut resp = match tokio::time::timeout_at(deadline, fut).await {
            Ok(r) => r,
            Err(_) => return self.refuse(peer, Rejection::HandlerTimeout, cors.as_ref()),
        };
        self.guard.decorate(resp.headers_mut(), cors.as_ref());
        if resp.body().is_stream() {
            resp.body_mut().attach(Box::new(inflight));
        }
        resp
    }
}

/// A bound listener, ready to serve.
#[derive(Debug)]
pub struct HttpServer {
    listener: TcpListener,
    cfg: HttpConfig,
    tls: Option<Arc<TlsReloader>>,
}

impl HttpServer {
    /// Validate `cfg` and bind its `listen` address.
    pub async fn bind(cfg: HttpConfig) -> Result<Self, crate::TransportError> {
        cfg.validate()?;
        let tls = cfg.tls.clone().map(TlsReloader::new).transpose()?;
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| crate::TransportError::Bind { addr: cfg.listen, source })?;
        Ok(Self { listener, cfg, tls })
    }

    /// The TLS config holder, to reload certificates on demand (e.g. on SIGHUP).
    pub fn tls_reloader(&self) -> Option<Arc<TlsReloader>> {
        self.tls.clone()
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serve until `shutdown` resolves, then stop accepting, let open requests finish (at most
    /// `request_timeout`), and return.
    pub async fn serve<H: HttpHandler>(self, handler: Arc<H>, shutdown: impl Future<Output = ()>) {
        let request_timeout = self.cfg.request_timeout();
        let idle = self.cfg.idle_timeout();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(self.cfg.header_read_timeout()).keep_alive(true);
        builder.http2().timer(TokioTimer::new()).max_concurrent_streams(256);
        let max_conns = self.cfg.max_concurrent_connections;
        let shared = Arc::new(Shared { guard: Guard::new(&self.cfg, self.tls.is_some()), cfg: self.cfg, handler });
        let conns = Arc::new(Semaphore::new(max_conns));
        let (stop_tx, stop_rx) = watch::channel(false);
        let poller = self.tls.clone().filter(|t| t.check_interval() > 0).map(|t| {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(t.check_interval()));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    t.reload_if_changed();
                }
            })
        });
        let handshake_timeout = shared.cfg.header_read_timeout();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                r = self.listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off briefly instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let Ok(permit) = conns.clone().try_acquire_owned() else {
                shared.handler.rejected(peer, Rejection::ConnectionLimit);
                tokio::spawn(refuse_connection(stream));
                continue;
            };
            let conn = Conn { shared: shared.clone(), builder: builder.clone(), stop: stop_rx.clone(), idle, peer };
            match &self.tls {
                None => {
                    tokio::spawn(async move {
                        conn.run(stream, None).await;
                        drop(permit);
                    });
                }
                Some(reloader) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(reloader.current());
                    tokio::spawn(async move {
                        match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                            Ok(Ok(tls)) => {
                                let info = tls_info(tls.get_ref().1);
                                conn.run(tls, Some(Arc::new(info))).await;
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                conn.shared.handler.rejected(peer, Rejection::TlsHandshake);
                            }
                            Err(_) => conn.shared.handler.rejected(peer, Rejection::TlsHandshake),
                        }
                        drop(permit);
                    });
                }
            }
        }
        if let Some(p) = poller {
            p.abort();
        }
        drop(self.listener);
        let _ = stop_tx.send(true);
        // Wait for open connections to finish, bounded by the request timeout.
        let all = u32::try_from(max_conns).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(request_timeout, conns.acquire_many(all)).await;
    }
}

fn tls_info(c: &rustls::ServerConnection) -> TlsInfo {
    TlsInfo {
        client_cert_der: c.peer_certificates().and_then(|certs| certs.first()).map(|c| c.as_ref().to_vec()),
        protocol: c.protocol_version().map(|v| format!("{v:?}")),
        cipher_suite: c.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())),
    }
}

/// One accepted connection.
struct Conn<H> {
    shared: Arc<Shared<H>>,
    builder: auto::Builder<TokioExecutor>,
    stop: watch::Receiver<bool>,
    idle: Duration,
    peer: SocketAddr,
}

impl<H: HttpHandler> Conn<H> {
    async fn run<I>(self, io: I, tls: Option<Arc<TlsInfo>>)
    where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(ConnActivity::default());
        let act = activity.clone();
        let shared = self.shared.clone();
        let peer = self.peer;
        let svc = service_fn(move |req| {
            let shared = shared.clone();
            let act = act.clone();
            let tls = tls.clone();
            async move { Ok::<_, std::convert::Infallible>(shared.serve(req, peer, tls, act).await) }
        });
        let conn = self.builder.serve_connection(TokioIo::new(io), svc);
        let mut conn = std::pin::pin!(conn);
        // The idle check and the server's stop signal wait in a watchdog task, which flags the
        // connection when it should drain. This task, woken on every request, then only reads
        // that flag instead of polling a timer and a channel each time.
        let flag = Arc::new(DrainFlag::default());
        let _watchdog = AbortOnDrop(tokio::spawn(watchdog(self.stop, self.idle, activity, flag.clone())));
        let mut draining = false;
        std::future::poll_fn(|cx| {
            flag.waker.register(cx.waker());
            if !draining && flag.drain.load(Ordering::Acquire) {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            conn.as_mut().poll(cx)
        })
        .await
        .ok();
    }
}

/// Aborts a task when dropped (the connection's watchdog ends with its connection).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Set by a connection's watchdog when the connection should finish its requests and close.
#[derive(Default)]
struct DrainFlag {
    drain: std::sync::atomic::AtomicBool,
    waker: futures_util::task::AtomicWaker,
}

/// Flag the connection for draining when the server stops, or when it has been idle: nothing
/// open and nothing finished for two ticks of `idle / 2` in a row, i.e. between `idle` and 1.5
/// `idle` after its last activity.
async fn watchdog(mut stop: watch::Receiver<bool>, idle: Duration, activity: Arc<ConnActivity>, flag: Arc<DrainFlag>) {
    let mut tick = tokio::time::interval(idle / 2);
    tick.tick().await;
    let (mut seen, mut quiet_ticks) = (0u64, 0u32);
    loop {
        tokio::select! {
            r = stop.changed() => {
                let _ = r;
                break;
            }
            _ = tick.tick() => {
                let finished = activity.finished.load(Ordering::Relaxed);
                if activity.inflight.load(Ordering::Relaxed) == 0 && finished == seen {
                    quiet_ticks += 1;
                } else {
                    (seen, quiet_ticks) = (finished, 0);
                }
                if quiet_ticks >= 2 {
                    break;
                }
            }
        }
    }
    flag.drain.store(true, Ordering::Release);
    flag.waker.wake();
}

async fn refuse_connection(mut stream: tokio::net::TcpStream) {
    let body = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32052,"message":"Too many connections"}}"#;
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(head.as_bytes())).await;
    let _ = stream.shutdown().await;
}
