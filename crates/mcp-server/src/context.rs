//! The per-request context a handler receives: caller identity, notifications to the client,
//! input requests (sampling, elicitation, roots), cancellation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use mcp_core::Principal;
use mcp_protocol::ProtocolVersion;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::handler::HandlerError;

/// Log levels of `notifications/message`, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// debug
    Debug,
    /// info
    Info,
    /// notice
    Notice,
    /// warning
    Warning,
    /// error
    Error,
    /// critical
    Critical,
    /// alert
    Alert,
    /// emergency
    Emergency,
}

impl LogLevel {
    const ALL: [Self; 8] = [
        Self::Debug,
        Self::Info,
        Self::Notice,
        Self::Warning,
        Self::Error,
        Self::Critical,
        Self::Alert,
        Self::Emergency,
    ];

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Notice => "notice",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
            Self::Alert => "alert",
            Self::Emergency => "emergency",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }

    pub(crate) fn to_u8(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.get(usize::from(v)).copied()
    }
}

/// A cancellation signal shared by a request and whoever may cancel it.
///
/// A flag and a `Notify`: one small allocation per request. (A `watch` channel, used before,
/// allocated eight notifiers and locked each of them when dropped, on every request.)
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<CancelState>);

#[derive(Debug, Default)]
struct CancelState {
    cancelled: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl Cancel {
    /// Signal cancellation.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// True once cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Resolves when cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0.notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the flag is read, so a `cancel` between the two still wakes us.
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// Queued outbound frames per request stream.
pub(crate) const STREAM_QUEUE: usize = 64;

/// Where a handler's notifications and requests to the client go.
#[derive(Clone, Debug)]
pub(crate) enum Out {
    /// A connection-wide channel (stdio).
    Channel(mpsc::Sender<Bytes>),
    /// A channel of this request alone, opened by its first message (HTTP).
    Lazy(Arc<Outbox>),
}

impl Out {
    /// Queue one frame; `Err` once the receiving side is gone.
    pub(crate) async fn send(&self, frame: Bytes) -> Result<(), ()> {
        let tx = match self {
            Self::Channel(tx) => tx,
            Self::Lazy(outbox) => outbox.sender(),
        };
        tx.send(frame).await.map_err(|_| ())
    }
}

/// The channel of one HTTP request's notifications and client requests, created by the first
/// message. Most calls send none, and they then cost no channel (its allocation, and the
/// locks of closing it).
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    tx: std::sync::OnceLock<mpsc::Sender<Bytes>>,
    /// The receiving end until the response takes it; `closed` once the response is done.
    rx: Mutex<RxSlot>,
    opened: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct RxSlot {
    rx: Option<mpsc::Receiver<Bytes>>,
    closed: bool,
}

impl Outbox {
    fn sender(&self) -> &mpsc::Sender<Bytes> {
        self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::channel(STREAM_QUEUE);
            if let Ok(mut slot) = self.rx.lock()
                && !slot.closed
            {
                slot.rx = Some(rx);
            }
            // (When the response is already done, `rx` is dropped here and every send fails, as
            // for a client that went away.) Stores a permit when nobody waits yet: `opened`
            // cannot miss it.
            self.opened.notify_one();
            tx
        })
    }

    /// The response is done without a stream: later messages (from a task the handler left
    /// behind) fail instead of filling a channel nobody reads.
    pub(crate) fn close(&self) {
        if let Ok(mut slot) = self.rx.lock() {
            slot.closed = true;
            slot.rx = None;
        }
    }

    /// Resolves once the first message has been queued.
    pub(crate) async fn opened(&self) {
        self.opened.notified().await;
    }

    /// The receiving end, once the channel exists (given out once).
    pub(crate) fn take(&self) -> Option<mpsc::Receiver<Bytes>> {
        self.rx.lock().ok()?.rx.take()
    }
}

/// Server-to-client requests waiting for the client's answer (legacy sessions and stdio).
#[derive(Debug, Default)]
pub struct PendingRequests {
    next: AtomicU64,
    map: Mutex<HashMap<String, oneshot::Sender<Result<Value, Value>>>>,
}

/// Most server-to-client requests outstanding per session / connection.
const MAX_PENDING: usize = 64;

impl PendingRequests {
    fn register(&self) -> Result<(String, oneshot::Receiver<Result<Value, Value>>), HandlerError> {
        let id = format!("srv-{}", self.next.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        let mut map = self.map.lock().map_err(|_| HandlerError::new("internal error"))?;
        if map.len() >= MAX_PENDING {
            return Err(HandlerError::new("too many outstanding requests to the client"));
        }
        map.insert(id.clone(), tx);
        Ok((id, rx))
    }

    fn forget(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }

    /// Deliver a decoded JSON-RPC response from the client. Returns false when no request with
    /// that id is waiting (a late or unsolicited answer, which is dropped).
    pub(crate) fn complete_response(&self, resp: &mcp_protocol::Response<'_>) -> bool {
        let outcome = match resp.outcome {
            Ok(v) => serde_json::from_str(v.get()).map_err(|_| Value::Null),
            Err(e) => Err(serde_json::from_str(e.get()).unwrap_or(Value::Null)),
        };
        let id = match &resp.id {
            mcp_protocol::RequestId::String(s) => s.clone(),
            mcp_protocol::RequestId::Number(n) => n.to_string(),
        };
        self.complete(&id, outcome)
    }

    /// Deliver the client's answer. Returns false when no request with that id is waiting.
    pub fn complete(&self, id: &str, outcome: Result<Value, Value>) -> bool {
        let tx = self.map.lock().ok().and_then(|mut m| m.remove(id));
        match tx {
            Some(tx) => tx.send(outcome).is_ok(),
            None => false,
        }
    }
}

/// How a handler gets input from the client.
#[derive(Debug)]
pub(crate) enum InputMode {
    /// No way to ask (the client cannot receive requests here).
    Unavailable,
    /// Send a JSON-RPC request on the response stream and wait (legacy era, stdio).
    Live(Arc<PendingRequests>),
    /// Stateless era: answers come with the retried request; missing ones are collected and the
    /// call ends with an `InputRequiredResult`.
    Stateless { responses: Map<String, Value>, requested: Mutex<Map<String, Value>> },
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) principal: Arc<Principal>,
    pub(crate) protocol: ProtocolVersion,
    pub(crate) progress_token: Option<Value>,
    pub(crate) log_level: Option<LogLevel>,
    pub(crate) out: Option<Out>,
    pub(crate) client_capabilities: Value,
    pub(crate) input: InputMode,
    pub(crate) cancel: Cancel,
    pub(crate) input_timeout: Duration,
    pub(crate) hub: Arc<crate::subscriptions::Hub>,
    pub(crate) secrets: Option<mcp_secrets::ScopedSecrets>,
}

/// Everything a handler may know about and do for the request it serves.
#[derive(Clone, Debug)]
pub struct RequestContext(pub(crate) Arc<Inner>);

impl RequestContext {
    /// Who is calling.
    pub fn principal(&self) -> &Principal {
        &self.0.principal
    }

    /// The protocol revision of this request.
    pub fn protocol(&self) -> ProtocolVersion {
        self.0.protocol
    }

    /// True when the client declared `capability` (e.g. `"sampling"`, `"elicitation"`, `"roots"`).
    pub fn client_supports(&self, capability: &str) -> bool {
        self.0.client_capabilities.get(capability).is_some_and(|v| !v.is_null())
    }

    /// The current value of a secret the tool declared with [`crate::ToolSpec::secrets`]. Any
    /// other name, or a server without a secret store, is an error. Values the tool returns are
    /// masked (`[REDACTED:<name>]`) before they reach the client.
    pub async fn secret(&self, name: &str) -> Result<secrecy::SecretBox<[u8]>, HandlerError> {
        let Some(s) = &self.0.secrets else {
            return Err(HandlerError::new(format!("secret {name:?} is not declared by this tool")));
        };
        s.get(name).await.map_err(|e| match e {
            mcp_secrets::SecretsError::NotDeclared { .. } => {
                HandlerError::new(format!("secret {name:?} is not declared by this tool"))
            }
            _ => HandlerError::new(format!("secret {name:?} is unavailable")),
        })
    }

    /// Tell subscribers that the tool list changed.
    pub fn notify_tools_changed(&self) {
        self.0.hub.list_changed(crate::subscriptions::ListKind::Tools);
    }

    /// Tell subscribers that the prompt list changed.
    pub fn notify_prompts_changed(&self) {
        self.0.hub.list_changed(crate::subscriptions::ListKind::Prompts);
    }

    /// Tell subscribers that a resource changed.
    pub fn notify_resource_updated(&self, uri: &str) {
        self.0.hub.resource_updated(uri);
    }

    /// True once the client cancelled the request.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancel.is_cancelled()
    }

    /// Resolves when the client cancels.
    pub async fn cancelled(&self) {
        self.0.cancel.cancelled().await;
    }

    async fn notify(&self, method: &str, params: Value) {
        if let Some(out) = &self.0.out {
            let msg = json!({"jsonrpc": "2.0", "method": method, "params": params});
            if let Ok(bytes) = serde_json::to_vec(&msg) {
                let _ = out.send(Bytes::from(bytes)).await;
            }
        }
    }

    /// Send a `notifications/message` if the client asked for this level (or lower).
    pub async fn log(&self, level: LogLevel, logger: &str, data: Value) {
        if self.0.log_level.is_some_and(|min| level >= min) {
            self.notify("notifications/message", json!({"level": level.as_str(), "logger": logger, "data": data}))
                .await;
        }
    }

    /// Send a `notifications/progress` if the client gave a progress token.
    pub async fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        if let Some(token) = &self.0.progress_token {
            let mut p = json!({"progressToken": token, "progress": progress});
            if let Some(t) = total {
                p["total"] = json!(t);
            }
            if let Some(m) = message {
                p["message"] = json!(m);
            }
            self.notify("notifications/progress", p).await;
        }
    }

    /// Ask the client for one input: `method` is `sampling/createMessage`, `elicitation/create`
    /// or `roots/list`. `key` names the request in the stateless era.
    pub async fn request_input(&self, key: &str, method: &str, params: Value) -> Result<Value, HandlerError> {
        let mut answers = self.request_inputs(vec![(key.to_owned(), method.to_owned(), params)]).await?;
        answers.remove(key).ok_or_else(|| HandlerError::new("the client did not answer"))
    }

    /// Ask the client for several inputs at once (one round trip in the stateless era).
    pub async fn request_inputs(
        &self,
        requests: Vec<(String, String, Value)>,
    ) -> Result<Map<String, Value>, HandlerError> {
        for (_, method, _) in &requests {
            let cap = capability_for(method).ok_or_else(|| HandlerError::new("unknown input request method"))?;
            if !self.client_supports(cap) {
                return Err(HandlerError::missing_capability(cap));
            }
        }
        match &self.0.input {
            InputMode::Unavailable => Err(HandlerError::new("this transport cannot send requests to the client")),
            InputMode::Stateless { responses, requested } => {
                let mut missing = false;
                let mut out = Map::new();
                for (key, method, params) in requests {
                    match responses.get(&key) {
                        Some(v) if valid_answer(&method, v) => {
                            out.insert(key, v.clone());
                        }
                        _ => {
                            missing = true;
                            if let Ok(mut r) = requested.lock() {
                                r.insert(key, json!({"method": method, "params": params}));
                            }
                        }
                    }
                }
                if missing { Err(HandlerError::input_required()) } else { Ok(out) }
            }
            InputMode::Live(pending) => {
                let mut out = Map::new();
                for (key, method, params) in requests {
                    let v = self.live_request(pending, &method, params).await?;
                    out.insert(key, v);
                }
                Ok(out)
            }
        }
    }

    async fn live_request(
        &self,
        pending: &PendingRequests,
        method: &str,
        params: Value,
    ) -> Result<Value, HandlerError> {
        let Some(out) = &self.0.out else {
            return Err(HandlerError::new("this transport cannot send requests to the client"));
        };
        let (id, rx) = pending.register()?;
        let msg = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let bytes = serde_json::to_vec(&msg).map_err(|_| HandlerError::new("internal error"))?;
        if out.send(Bytes::from(bytes)).await.is_err() {
            pending.forget(&id);
            return Err(HandlerError::new("the client has gone"));
        }
        let outcome = tokio::select! {
            r = tokio::time::timeout(self.0.input_timeout, rx) => r,
            () = self.0.cancel.cancelled() => {
                pending.forget(&id);
                return Err(HandlerError::new("request cancelled"));
            }
        };
        pending.forget(&id);
        match outcome {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(_))) => Err(HandlerError::new("the client refused the request")),
            Ok(Err(_)) => Err(HandlerError::new("the client has gone")),
            Err(_) => Err(HandlerError::new("the client did not answer in time")),
        }
    }
}

fn capability_for(method: &str) -> Option<&'static str> {
    match method {
        "sampling/createMessage" => Some("sampling"),
        "elicitation/create" => Some("elicitation"),
        "roots/list" => Some("roots"),
        _ => None,
    }
}

/// Shape check of an answer, so a handler never sees e.g. a number where a result object belongs.
fn valid_answer(method: &str, v: &Value) -> bool {
    match method {
        "elicitation/create" => {
            v.get("action").and_then(Value::as_str).is_some_and(|a| matches!(a, "accept" | "decline" | "cancel"))
        }
        "sampling/createMessage" => v.get("content").is_some() && v.get("role").is_some(),
        "roots/list" => v.get("roots").is_some_and(Value::is_array),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn outbox_is_made_by_the_first_message_and_refuses_after_close() {
        let outbox = Arc::new(Outbox::default());
        assert!(outbox.take().is_none(), "no channel before a message");
        let out = Out::Lazy(outbox.clone());
        out.send(Bytes::from_static(b"one")).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), outbox.opened()).await.expect("opened fired");
        let mut rx = outbox.take().expect("the receiving end");
        assert_eq!(rx.try_recv().unwrap(), Bytes::from_static(b"one"));
        assert!(outbox.take().is_none(), "given out once");

        // Closed before any message: the channel made later is never read, so sends fail.
        let outbox = Arc::new(Outbox::default());
        outbox.close();
        let out = Out::Lazy(outbox.clone());
        assert!(out.send(Bytes::from_static(b"late")).await.is_err());
        assert!(out.send(Bytes::from_static(b"later")).await.is_err());
        assert!(outbox.take().is_none());
    }

    #[tokio::test]
    async fn cancel_wakes_every_waiter_and_stays_set() {
        let c = Cancel::default();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let c = c.clone();
                tokio::spawn(async move { c.cancelled().await })
            })
            .collect();
        tokio::task::yield_now().await;
        assert!(!c.is_cancelled());
        c.cancel();
        for w in waiters {
            tokio::time::timeout(Duration::from_secs(10), w).await.expect("waiter woken").expect("no panic");
        }
        assert!(c.is_cancelled());
        // Cancelled before anyone waits: resolves at once.
        tokio::time::timeout(Duration::from_secs(10), c.cancelled()).await.expect("already cancelled");
    }

    fn ctx(input: InputMode, caps: Value) -> RequestContext {
        RequestContext(Arc::new(Inner {
            principal: Arc::new(Principal::anonymous()),
            protocol: ProtocolVersion::LATEST,
            progress_token: None,
            log_level: None,
            out: None,
            client_capabilities: caps,
            input,
            cancel: Cancel::default(),
            input_timeout: Duration::from_secs(1),
            hub: Arc::default(),
            secrets: None,
        }))
    }

    #[tokio::test]
    async fn stateless_collects_missing_and_checks_shape() {
        let mut responses = Map::new();
        responses.insert("a".into(), json!(12345));
        let c = ctx(InputMode::Stateless { responses, requested: Mutex::default() }, json!({"elicitation": {}}));
        let err = c.request_input("a", "elicitation/create", json!({})).await.unwrap_err();
        assert_eq!(err.kind, crate::handler::HandlerErrorKind::InputRequired);
        let err = c.request_input("s", "sampling/createMessage", json!({})).await.unwrap_err();
        assert!(matches!(err.kind, crate::handler::HandlerErrorKind::MissingCapability("sampling")));
    }

    #[test]
    fn log_levels_order() {
        assert!(LogLevel::Error > LogLevel::Info);
        for l in LogLevel::ALL {
            assert_eq!(LogLevel::from_u8(l.to_u8()), Some(l));
            assert_eq!(LogLevel::parse(l.as_str()), Some(l));
        }
    }
}
