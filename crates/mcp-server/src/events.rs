//! Where security events go: the process log, the audit log and the security monitor, in that
//! order, each on its own (a failing sink does not keep the event from the others).

use std::sync::Arc;

use mcp_core::traits::{AuditSink, BackendError};
use mcp_core::{AuditRecord, BoxFuture, SecurityEvent};

/// Every security event to each sink.
#[derive(Debug)]
pub(crate) struct Fanout {
    pub(crate) log: Arc<dyn AuditSink>,
    pub(crate) audit: Option<Arc<dyn AuditSink>>,
    pub(crate) monitor: Option<Arc<mcp_monitor::SecurityMonitor>>,
    /// OpenTelemetry (counts events, attaches them to the running request's span).
    pub(crate) telemetry: crate::telemetry::Telemetry,
}

impl AuditSink for Fanout {
    fn record(&self, e: SecurityEvent) -> Result<(), BackendError> {
        self.telemetry.event(&e);
        if let Some(m) = &self.monitor {
            m.publish(&e);
        }
        // A successful authentication is part of every request's own audit record (principal
        // and method), so it is not written a second time.
        let audited = e.kind != mcp_core::SecurityEventKind::Authenticated;
        match &self.audit {
            Some(a) if audited => {
                let logged = self.log.record(e.clone());
                a.record(e).and(logged)
            }
            _ => self.log.record(e),
        }
    }

    fn audit(&self, record: AuditRecord) -> Result<(), BackendError> {
        match &self.audit {
            Some(a) => a.audit(record),
            None => Ok(()),
        }
    }

    fn durable_mode(&self) -> bool {
        self.audit.as_ref().is_some_and(|a| a.durable_mode())
    }

    fn audit_durable(&self, record: AuditRecord) -> BoxFuture<'static, Result<(), BackendError>> {
        match &self.audit {
            Some(a) => a.audit_durable(record),
            None => Box::pin(async { Ok(()) }),
        }
    }

    fn is_failing_closed(&self) -> bool {
        self.audit.as_ref().is_some_and(|a| a.is_failing_closed())
    }

    fn params_hash(&self, params: &serde_json::Value) -> Option<[u8; 32]> {
        self.audit.as_ref().and_then(|a| a.params_hash(params))
    }

    fn flush(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            self.log.flush().await?;
            match &self.audit {
                Some(a) => a.flush().await,
                None => Ok(()),
            }
        })
    }
}
