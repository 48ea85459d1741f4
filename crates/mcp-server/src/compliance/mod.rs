//! Compliance switches that change behaviour: `[gdpr]` (retention, erasure, portability,
//! consent) and `[hipaa]` (startup requirements, PHI tagging, breach notification), and the
//! executable deployment checklist of `mcp-server security-check`.

mod breach;
mod config;
mod consent;

pub use breach::{BreachWatch, deliver};
pub use config::{GdprSection, HipaaSection, NotificationTarget, Requirement};
pub use consent::{ConsentRecord, ConsentStore};
