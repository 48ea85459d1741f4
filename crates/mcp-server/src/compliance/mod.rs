//! Compliance switches that change behaviour: `[gdpr]` (retention, erasure, portability,
//! consent) and `[hipaa]` (startup requirements, PHI tagging, breach notification), and the
//! executable deployment checklist of `mcp-server security-check`.

mod breach;
mod checklist;
mod config;
mod consent;
mod hipaa;

pub use breach::{BreachWatch, deliver, report_breach};
pub use checklist::{
    CheckItem, Status, Summary, evaluate, exit_code, render_json, render_text, scan_config_text, summarize,
};
pub use config::{GdprSection, HipaaSection, NotificationTarget, Requirement};
pub use consent::{ConsentRecord, ConsentStore};
pub use hipaa::{check_hipaa, hipaa_findings};
