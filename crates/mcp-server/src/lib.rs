//! The composing crate of mcp-secure.
//!
//! Build a server with [`McpServer::builder`], register tools, resources, resource templates and
//! prompts with typed handlers, then serve it over Streamable HTTP ([`serve_http`]) and/or stdio
//! ([`stdio::serve_stdio`]). Both MCP eras are served on one endpoint: the stateless 2026-07-28
//! revision and the session-based 2025-11-25 / 2025-06-18 / 2025-03-26 revisions.
//!
//! ```no_run
//! use mcp_server::{McpServer, ToolSpec, HandlerError, serve_http};
//! use mcp_protocol::types::CallToolResult;
//! # async fn run() -> Result<(), mcp_server::ServerError> {
//! let server = McpServer::builder("demo", "1.0.0")
//!     .add_tool(ToolSpec::new("hello", "Says hello").raw_handler(|_, _| async {
//!         Ok::<_, HandlerError>(CallToolResult::text("hello"))
//!     }))
//!     .danger_allow_unauthenticated()
//!     .build()?;
//! serve_http(server, mcp_transport::HttpConfig::default(), std::future::pending()).await
//! # }
//! ```

mod answer;
mod audit;
mod auth;
mod bootstrap;
pub mod compliance;
mod compose;
mod config;
mod context;
pub mod demo;
mod dispatch;
mod error;
mod events;
mod guard;
mod handler;
mod http;
mod limits;
mod reload;
mod replace;
mod rotation;
pub mod secrets;
mod server;
mod session;
mod state;
pub mod stdio;
mod subscriptions;
mod telemetry;
mod tools;
mod validation;
mod watch;

pub use auth::NewKey;
pub use auth::PREVIOUS_SECRET_RULE;
pub use auth::authenticator_from_config;
pub use compose::{
    AuditLog, audit_key_ring, audit_paths, block_file, block_store, consent_file, monitoring_config,
    spawn_auth_rotation_watch,
};
pub use config::{Config, DEFAULT_CONFIG, DangerSection, LogFormat, STANDARD_POLICY, standard_policy};
pub use context::{LogLevel, RequestContext};
pub use error::{ServerError, http_status_for};
pub use handler::{HandlerError, PromptSpec, ResourceSpec, ResourceTemplateSpec, ToolSpec};
pub use http::HttpFront;
pub use reload::{PolicyReload, spawn_policy_reload_on_sighup};
pub use replace::{PinMode, ToolReplaced};
pub use server::{McpServer, ServerBuilder, ServerSettings, TracingSink};
pub use session::SessionLimits;
pub use subscriptions::ListKind;
pub use telemetry::TelemetryHandle;
pub use validation::ValidationConfig;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The data directory of `cfg` with `~/` expanded.
pub fn data_dir(cfg: &Config) -> std::path::PathBuf {
    bootstrap::expand(&cfg.server.data_dir)
}

/// Add an API key to the data directory's keys file (the default authentication); returns the
/// key, to show once, and the file it was recorded in.
pub fn add_data_dir_key(
    dir: &std::path::Path,
    id: &str,
    permissions: &[&str],
    roles: &[&str],
) -> Result<(secrecy::SecretBox<str>, std::path::PathBuf), ServerError> {
    bootstrap::add_key(dir, id, permissions, roles)
}

/// Bind `cfg.listen` and serve `server` until `shutdown` resolves.
pub async fn serve_http(
    server: McpServer,
    cfg: mcp_transport::HttpConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let listener = mcp_transport::http::HttpServer::bind(cfg.clone()).await?;
    serve_on(server, listener, &cfg.path, shutdown).await;
    Ok(())
}

/// Serve on an already bound listener (lets callers learn the port first).
pub async fn serve_on(
    server: McpServer,
    listener: mcp_transport::http::HttpServer,
    path: &str,
    shutdown: impl Future<Output = ()>,
) {
    let reaper = {
        let server = server.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tick.tick().await;
                let n = server.0.sessions.reap();
                if n > 0 {
                    tracing::debug!(ended = n, "idle sessions ended");
                }
            }
        })
    };
    let front = Arc::new(HttpFront::new(server, path));
    listener.serve(front, shutdown).await;
    reaper.abort();
}
