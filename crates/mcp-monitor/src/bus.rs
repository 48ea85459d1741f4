//! The in-process security event bus.
//!
//! The subscriber list is an immutable snapshot behind an [`ArcSwap`]: publishing loads it
//! without a lock and without allocating, and (un)subscribing swaps in a new list. With no
//! subscriber, publishing is one atomic load. Channel subscribers get a bounded
//! `tokio::sync::mpsc` queue filled with `try_send`: a slow subscriber loses events (counted in
//! [`EventBus::dropped`]) and never slows the publisher.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use arc_swap::ArcSwap;
use mcp_core::SecurityEvent;
use tokio::sync::mpsc;

/// An in-process subscriber callback. It runs on the publishing thread, so it must be quick
/// and must not block; a panic in it is caught and logged.
pub type Handler = Arc<dyn Fn(&SecurityEvent) + Send + Sync>;

enum Sink {
    Callback(Handler),
    Channel(mpsc::Sender<SecurityEvent>),
}

struct Subscriber {
    id: u64,
    sink: Sink,
}

struct Shared {
    subscribers: ArcSwap<Vec<Arc<Subscriber>>>,
    count: AtomicUsize,
    next_id: AtomicU64,
    dropped: AtomicU64,
}

/// Fan-out of security events to subscribers.
pub struct EventBus {
    shared: Arc<Shared>,
}

impl fmt::Debug for EventBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBus")
            .field("subscribers", &self.subscriber_count())
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                subscribers: ArcSwap::from_pointee(Vec::new()),
                count: AtomicUsize::new(0),
                next_id: AtomicU64::new(1),
                dropped: AtomicU64::new(0),
            }),
        }
    }

    /// Deliver `event` to every subscriber. Never blocks, never allocates when nobody listens.
    pub fn publish(&self, event: &SecurityEvent) {
        if self.shared.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let subscribers = self.shared.subscribers.load();
        for s in subscribers.iter() {
            match &s.sink {
                Sink::Callback(h) => {
                    if catch_unwind(AssertUnwindSafe(|| h(event))).is_err() {
                        tracing::error!(subscriber = s.id, "security event subscriber panicked; event skipped for it");
                    }
                }
                Sink::Channel(tx) => {
                    if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(event.clone()) {
                        self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    /// Call `handler` for every event until the returned [`Subscription`] is dropped.
    pub fn subscribe(&self, handler: Handler) -> Subscription {
        self.add(Sink::Callback(handler))
    }

    /// Receive events on a bounded channel of `capacity` (at least 1) until the
    /// [`Subscription`] is dropped. When the channel is full, events are dropped and counted.
    pub fn subscribe_channel(&self, capacity: usize) -> (Subscription, mpsc::Receiver<SecurityEvent>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (self.add(Sink::Channel(tx)), rx)
    }

    /// Events lost because a channel subscriber was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Current number of subscribers.
    pub fn subscriber_count(&self) -> usize {
        self.shared.count.load(Ordering::Acquire)
    }

    fn add(&self, sink: Sink) -> Subscription {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let sub = Arc::new(Subscriber { id, sink });
        self.shared.subscribers.rcu(|list| {
            let mut next = Vec::with_capacity(list.len() + 1);
            next.extend(list.iter().cloned());
            next.push(Arc::clone(&sub));
            next
        });
        self.shared.count.fetch_add(1, Ordering::AcqRel);
        Subscription { bus: Arc::downgrade(&self.shared), id }
    }
}

/// A live subscription; dropping it unsubscribes.
#[must_use = "dropping the Subscription unsubscribes immediately"]
pub struct Subscription {
    bus: Weak<Shared>,
    id: u64,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").field("id", &self.id).finish()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let Some(shared) = self.bus.upgrade() else { return };
        let id = self.id;
        let mut removed = false;
        shared.subscribers.rcu(|list| {
            let next: Vec<_> = list.iter().filter(|s| s.id != id).cloned().collect();
            removed = next.len() != list.len();
            next
        });
        if removed {
            shared.count.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::SystemTime;

    use mcp_core::SecurityEventKind;

    use super::*;

    fn ev(reason: &'static str) -> SecurityEvent {
        SecurityEvent::new(SecurityEventKind::AuthenticateFail, reason, SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn callbacks_receive_until_dropped() {
        let bus = EventBus::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = Arc::clone(&seen);
        let sub = bus.subscribe(Arc::new(move |e: &SecurityEvent| s2.lock().unwrap().push(e.reason)));
        bus.publish(&ev("one"));
        assert_eq!(bus.subscriber_count(), 1);
        drop(sub);
        assert_eq!(bus.subscriber_count(), 0);
        bus.publish(&ev("two"));
        assert_eq!(*seen.lock().unwrap(), vec!["one"]);
    }

    #[test]
    fn full_channel_drops_and_counts_without_blocking() {
        let bus = EventBus::new();
        let (_sub, mut rx) = bus.subscribe_channel(2);
        for r in ["a", "b", "c", "d"] {
            bus.publish(&ev(r));
        }
        assert_eq!(bus.dropped(), 2);
        assert_eq!(rx.try_recv().unwrap().reason, "a");
        assert_eq!(rx.try_recv().unwrap().reason, "b");
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn panicking_subscriber_does_not_stop_others() {
        let bus = EventBus::new();
        let _bad = bus.subscribe(Arc::new(|_: &SecurityEvent| panic!("subscriber bug")));
        let (_sub, mut rx) = bus.subscribe_channel(4);
        bus.publish(&ev("x"));
        assert_eq!(rx.try_recv().unwrap().reason, "x");
    }

    #[test]
    fn subscription_outliving_bus_is_harmless() {
        let bus = EventBus::new();
        let (sub, rx) = bus.subscribe_channel(1);
        drop(bus);
        drop(sub);
        drop(rx);
    }
}
