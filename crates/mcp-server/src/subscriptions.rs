//! Change notifications: resource updates and list changes, fanned out to legacy GET streams
//! and stateless-era `subscriptions/listen` streams.

use std::sync::Arc;

use tokio::sync::broadcast;

/// Which list changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// Tools.
    Tools,
    /// Prompts.
    Prompts,
    /// Resources.
    Resources,
}

/// One change.
#[derive(Clone, Debug)]
pub(crate) enum Change {
    ResourceUpdated(Arc<str>),
    ListChanged(ListKind),
}

/// The fan-out point. Slow subscribers lose old changes rather than holding memory.
#[derive(Debug)]
pub(crate) struct Hub {
    tx: broadcast::Sender<Change>,
}

impl Default for Hub {
    fn default() -> Self {
        Self { tx: broadcast::channel(256).0 }
    }
}

impl Hub {
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }

    pub(crate) fn resource_updated(&self, uri: &str) {
        let _ = self.tx.send(Change::ResourceUpdated(uri.into()));
    }

    pub(crate) fn list_changed(&self, kind: ListKind) {
        let _ = self.tx.send(Change::ListChanged(kind));
    }
}
