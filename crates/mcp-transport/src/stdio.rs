//! Newline-delimited JSON over stdin / stdout.
//!
//! Each line is one JSON-RPC message. Lines longer than the configured limit are refused without
//! being buffered whole. Output goes through one writer task, so messages never interleave.

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// One frame read from the input.
#[derive(Debug)]
pub enum Frame {
    /// A complete line (without the newline).
    Line(Bytes),
    /// A line longer than the limit; its bytes were discarded.
    TooLong,
}

/// Sends whole messages to the output; each becomes one line.
#[derive(Clone, Debug)]
pub struct StdioSender(mpsc::Sender<Bytes>);

impl StdioSender {
    /// The underlying queue, for producers that send pre-serialized messages.
    pub fn queue(&self) -> mpsc::Sender<Bytes> {
        self.0.clone()
    }

    /// Queue one message (must not contain a raw newline; serde_json output never does).
    pub async fn send(&self, msg: Vec<u8>) -> bool {
        self.0.send(Bytes::from(msg)).await.is_ok()
    }
}

/// Read frames from `input` and hand them to `on_frame` until EOF; `on_frame` gets a sender for
/// output. Returns when the input ends and all queued output has been written.
pub async fn run<R, W, F>(input: R, output: W, max_line: usize, mut on_frame: F) -> Result<(), crate::TransportError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
    F: FnMut(Frame, StdioSender),
{
    let (tx, mut rx) = mpsc::channel::<Bytes>(256);
    let writer = tokio::spawn(async move {
        let mut out = output;
        while let Some(msg) = rx.recv().await {
            let mut buf = Vec::with_capacity(msg.len() + 1);
            buf.extend_from_slice(&msg);
            buf.push(b'\n');
            out.write_all(&buf).await?;
            out.flush().await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let sender = StdioSender(tx);
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut line = Vec::new();
    let mut discarding = false;
    loop {
        let buf = reader.fill_buf().await.map_err(crate::TransportError::Stdio)?;
        if buf.is_empty() {
            if !line.is_empty() && !discarding {
                on_frame(Frame::Line(Bytes::from(std::mem::take(&mut line))), sender.clone());
            }
            break;
        }
        let (chunk, consumed, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        if !discarding {
            if line.len() + chunk.len() > max_line {
                discarding = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        reader.consume(consumed);
        if end {
            if discarding {
                on_frame(Frame::TooLong, sender.clone());
            } else {
                let mut l = std::mem::take(&mut line);
                if l.last() == Some(&b'\r') {
                    l.pop();
                }
                if !l.iter().all(|b| b.is_ascii_whitespace()) {
                    on_frame(Frame::Line(Bytes::from(l)), sender.clone());
                }
            }
            discarding = false;
        }
    }
    drop(sender);
    match writer.await {
        Ok(r) => r.map_err(crate::TransportError::Stdio),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_lines_and_refuses_long_ones() {
        let input: &[u8] = b"{\"a\":1}\r\n\n0123456789ABCDEF\n{\"b\":2}";
        let mut seen = Vec::new();
        let (w, mut r) = tokio::io::duplex(1024);
        run(input, w, 10, |f, s| {
            seen.push(match f {
                Frame::Line(b) => String::from_utf8(b.to_vec()).unwrap(),
                Frame::TooLong => "<too long>".into(),
            });
            tokio::spawn(async move { s.send(b"ok".to_vec()).await });
        })
        .await
        .unwrap();
        assert_eq!(seen, ["{\"a\":1}", "<too long>", "{\"b\":2}"]);
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut r, &mut out).await.unwrap();
        assert_eq!(out, "ok\nok\nok\n");
    }
}
