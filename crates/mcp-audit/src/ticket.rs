//! A one-shot completion: the writer completes it once a record (or a flush) is on disk; the
//! caller awaits it as a future or blocks on it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::error::AuditError;

/// Why a ticket did not complete successfully.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Undone {
    /// Writing or syncing failed (the record may still be written when the log recovers).
    WriteFailed,
    /// The writer stopped before the record was written.
    WriterStopped,
}

impl Undone {
    fn error(self) -> AuditError {
        match self {
            Self::WriteFailed => AuditError::Unavailable("the record could not be written or synced"),
            Self::WriterStopped => AuditError::Unavailable("the writer stopped before the record was written"),
        }
    }
}

#[derive(Debug)]
enum State {
    Pending(Option<Waker>),
    Done(Result<(), Undone>),
}

#[derive(Debug)]
struct Slot {
    state: Mutex<State>,
    cv: Condvar,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Completes when its record (or flush) is durable per the fsync policy: with `every_record`
/// after fsync, otherwise once written to the operating system. Await it, or call
/// [`wait`](Self::wait) / [`wait_timeout`](Self::wait_timeout) from blocking code.
#[derive(Debug)]
#[must_use = "a ticket does nothing unless waited for"]
pub struct Ticket(Arc<Slot>);

/// The writer's half of a [`Ticket`]. Dropping it uncompleted fails the ticket.
#[derive(Debug)]
pub(crate) struct Completer(Option<Arc<Slot>>);

/// A new ticket and its completer.
pub(crate) fn ticket() -> (Completer, Ticket) {
    let slot = Arc::new(Slot { state: Mutex::new(State::Pending(None)), cv: Condvar::new() });
    (Completer(Some(slot.clone())), Ticket(slot))
}

impl Completer {
    /// Complete the ticket.
    pub(crate) fn complete(mut self, result: Result<(), Undone>) {
        if let Some(slot) = self.0.take() {
            finish(&slot, result);
        }
    }
}

fn finish(slot: &Slot, result: Result<(), Undone>) {
    let waker = {
        let mut state = slot.lock();
        match std::mem::replace(&mut *state, State::Done(result)) {
            State::Pending(w) => w,
            done @ State::Done(_) => {
                *state = done;
                None
            }
        }
    };
    slot.cv.notify_all();
    if let Some(w) = waker {
        w.wake();
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            finish(&slot, Err(Undone::WriterStopped));
        }
    }
}

impl Ticket {
    /// A ticket that is already complete (records the configuration filters out).
    pub(crate) fn ready() -> Self {
        Self(Arc::new(Slot { state: Mutex::new(State::Done(Ok(()))), cv: Condvar::new() }))
    }

    /// Block until complete.
    pub fn wait(self) -> Result<(), AuditError> {
        let mut state = self.0.lock();
        loop {
            if let State::Done(r) = &*state {
                return r.map_err(Undone::error);
            }
            state = self.0.cv.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Block until complete or `timeout` passes (`None`: still pending).
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Result<(), AuditError>> {
        let guard = self.0.lock();
        let (state, _) = self
            .0
            .cv
            .wait_timeout_while(guard, timeout, |s| matches!(s, State::Pending(_)))
            .unwrap_or_else(PoisonError::into_inner);
        match &*state {
            State::Done(r) => Some(r.map_err(Undone::error)),
            State::Pending(_) => None,
        }
    }
}

impl Future for Ticket {
    type Output = Result<(), AuditError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.0.lock();
        match &mut *state {
            State::Done(r) => Poll::Ready(r.map_err(Undone::error)),
            State::Pending(w) => {
                *w = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_across_threads_and_fails_on_drop() {
        let (c, t) = ticket();
        let h = std::thread::spawn(move || c.complete(Ok(())));
        assert!(t.wait().is_ok());
        h.join().unwrap();
        let (c, t) = ticket();
        assert!(t.wait_timeout(Duration::from_millis(5)).is_none());
        drop(c);
        assert!(t.wait_timeout(Duration::from_millis(5)).unwrap().is_err());
    }
}
