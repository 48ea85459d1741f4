//! Tamper-evident JSON-lines audit log for mcp-secure.
//!
//! - [`FileAuditSink`] implements [`mcp_core::traits::AuditSink`]: records are filtered by the
//!   `[audit_log]` config ([`AuditLogConfig`]), handed to a bounded queue without ever blocking
//!   the request path, and written by a dedicated writer thread ([`WriterHandle`]) in batches,
//!   with the configured fsync policy, size / age rotation and a fail-closed or fail-open policy.
//! - Parameters are never written: [`AuditSink::params_hash`](mcp_core::traits::AuditSink::params_hash)
//!   is an HMAC-SHA-256 (keyed with the [`AuditKey`]) of the canonical JSON of the parameters.
//! - Every line carries `digest = SHA-256(body)` and `chain = HMAC(key, previous chain ‖ header
//!   ‖ digest)`; each file opens with an anchor carrying the chain across rotation. [`verify`]
//!   finds the first modified, removed, reordered or truncated record, or removed file.
//! - [`gdpr`]: erase a client (tombstones keep digest and chain), export a client's records,
//!   purge rotated files past retention (a chained purge record accounts for them).
//! - `otel` (cargo feature `otel`): `OtelExporter` sends one span per request, security events
//!   as span events and security counters plus a latency histogram over OTLP/HTTP, configured by
//!   [`TelemetryConfig`] (`[telemetry]`).
//!
//! The record and chain format is specified in `docs/configuration.md` (section "Audit log").
//!
//! ```
//! use std::sync::Arc;
//! use mcp_audit::{AuditKey, AuditLogConfig, FileAuditSink, verify, log_files};
//! use mcp_core::traits::AuditSink;
//! use mcp_core::{SecurityEvent, SecurityEventKind};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let config: AuditLogConfig = toml::from_str(r#"fsync = "every_record""#).unwrap();
//! let key = AuditKey::generate().unwrap();
//! let (sink, writer) = FileAuditSink::start(&config, dir.path(), key.clone()).unwrap();
//! let event = SecurityEvent::new(SecurityEventKind::AuthorizeFail, "no permission", std::time::SystemTime::now())
//!     .with_principal("client-1");
//! sink.record_durable(event).unwrap().wait().unwrap();
//! writer.shutdown().unwrap();
//!
//! let files = log_files(&config.log_path(dir.path())).unwrap();
//! let report = verify(&files, &key, &mut |_| {}).unwrap();
//! assert_eq!(report.records, 3); // anchor, the event, shutdown
//! assert!(report.clean_shutdown);
//! ```

mod body;
mod config;
mod error;
mod files;
pub mod gdpr;
mod key;
mod line;
mod logfile;
mod meta;
#[cfg(feature = "otel")]
pub mod otel;
mod reader;
mod select;
mod shared;
mod sink;
mod telemetry;
mod ticket;
mod util;
mod verify;
mod writer;

pub use body::{class_of_event, class_of_method};
pub use config::{AuditLogConfig, Backend, Format, FsyncPolicy, OnFailure};
pub use error::AuditError;
pub use gdpr::{EraseReport, PurgeReport, erase_client, export_client, purge_older_than};
pub use key::{AuditKey, KEY_LEN};
pub use reader::Progress;
pub use select::{EventClass, Field};
pub use shared::{AuditStats, DegradedCause, FaultHook, HealthChange, HealthHook, IoOp};
pub use sink::{FileAuditSink, SinkOptions, WriterHandle};
pub use telemetry::TelemetryConfig;
pub use ticket::Ticket;
pub use verify::{FileReport, Problem, VerifyFailure, VerifyReport, log_files, verify, verify_with_keys};
