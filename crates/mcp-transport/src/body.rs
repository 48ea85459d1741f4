use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::mpsc;

/// A response body: one buffer, or a stream of server-sent-event frames.
pub struct Body {
    inner: Inner,
    guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body").field("inner", &self.inner).finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum Inner {
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
}

/// Sends already-framed SSE events into a streaming [`Body`]. Dropping every sender ends the
/// stream.
#[derive(Clone, Debug)]
pub struct SseSender(mpsc::Sender<Bytes>);

impl SseSender {
    /// Queue one event (`data` must already be one JSON document without newlines). `id` becomes
    /// the SSE event id. Returns `false` when the client has gone.
    pub async fn send_event(&self, id: Option<&str>, data: &[u8]) -> bool {
        self.0.send(sse_frame(id, data)).await.is_ok()
    }

    /// Queue a pre-built frame.
    pub async fn send_raw(&self, frame: Bytes) -> bool {
        self.0.send(frame).await.is_ok()
    }

    /// Resolves when the client has gone (the body was dropped).
    pub async fn closed(&self) {
        self.0.closed().await;
    }

    /// True when the client has gone.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// Build one SSE `message` event frame.
///
/// ```
/// let f = mcp_transport::body::sse_frame(Some("7"), br#"{"a":1}"#);
/// assert_eq!(&f[..], b"id: 7\nevent: message\ndata: {\"a\":1}\n\n");
/// ```
pub fn sse_frame(id: Option<&str>, data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 40);
    if let Some(id) = id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(id.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"event: message\ndata: ");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

impl Body {
    /// One buffer, written in one go.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Self { inner: Inner::Full(Some(bytes.into())), guard: None }
    }

    /// No content.
    pub fn empty() -> Self {
        Self { inner: Inner::Full(None), guard: None }
    }

    /// A streaming body and the sender feeding it; `capacity` bounds queued frames.
    pub fn channel(capacity: usize) -> (SseSender, Self) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (SseSender(tx), Self { inner: Inner::Stream(rx), guard: None })
    }
}

impl Body {
    /// Keep `guard` alive until the body is dropped (used to count open streams).
    pub(crate) fn attach(&mut self, guard: Box<dyn std::any::Any + Send + Sync>) {
        self.guard = Some(guard);
    }

    /// True for a streaming (SSE) body.
    pub fn is_stream(&self) -> bool {
        matches!(self.inner, Inner::Stream(_))
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match &mut self.inner {
            Inner::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Inner::Stream(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(&self.inner, Inner::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Inner::Full(None) => SizeHint::with_exact(0),
            Inner::Stream(_) => SizeHint::default(),
        }
    }
}
