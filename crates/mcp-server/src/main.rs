//! The `mcp-server` binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use mcp_server::{Config, LogFormat, McpServer, ServerError};

#[derive(Parser, Debug)]
#[command(
    name = "mcp-server",
    version,
    about = "A Model Context Protocol server with its security controls on by default"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (embedded default config unless --config is given).
    Serve {
        /// TOML configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Listen address, overriding `http.listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Serve MCP on stdin/stdout instead of HTTP (logs go to stderr).
        #[arg(long)]
        stdio: bool,
        /// Log format, overriding `logging.format`.
        #[arg(long, value_enum)]
        log_format: Option<Format>,
    },
    /// Validate a configuration file without starting.
    CheckConfig {
        /// TOML configuration file.
        file: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Human,
    Json,
}

fn init_logging(cfg: &Config, format: Option<Format>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MCP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.logging.level));
    let json = match format {
        Some(Format::Json) => true,
        Some(Format::Human) => false,
        None => cfg.logging.format == LogFormat::Json,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn build(cfg: &Config) -> Result<McpServer, ServerError> {
    let mut b = McpServer::builder(cfg.server.name.clone(), env!("CARGO_PKG_VERSION")).settings(cfg.server_settings());
    if let Some(i) = &cfg.server.instructions {
        b = b.instructions(i.clone());
    }
    mcp_server::demo::add_demo(b).build()
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down: no new connections, finishing open requests");
}

/// Reload TLS certificates on SIGHUP (open connections are kept).
fn spawn_sighup_reload(reloader: std::sync::Arc<mcp_transport::tls::TlsReloader>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
        while hup.recv().await.is_some() {
            if let Err(e) = reloader.reload() {
                tracing::error!(error = %e, "TLS reload on SIGHUP failed; keeping the previous certificates");
            }
        }
    });
    #[cfg(not(unix))]
    let _ = reloader;
}

async fn serve(
    config: Option<PathBuf>,
    listen: Option<SocketAddr>,
    stdio: bool,
    format: Option<Format>,
) -> Result<(), ServerError> {
    let mut cfg = Config::load(config.as_deref())?;
    if let Some(addr) = listen {
        cfg.http.listen = addr;
        cfg.http.validate().map_err(|e| ServerError::Config(format!("--listen {addr}: {e}")))?;
    }
    init_logging(&cfg, format);
    let server = build(&cfg)?;
    if stdio {
        tracing::info!("serving MCP on stdio");
        return mcp_server::stdio::serve_stdio(server).await;
    }
    let listener = mcp_transport::http::HttpServer::bind(cfg.http.clone()).await?;
    if let Some(reloader) = listener.tls_reloader() {
        spawn_sighup_reload(reloader);
    }
    let addr = listener.local_addr().map_err(|e| ServerError::Config(format!("cannot read the bound address: {e}")))?;
    tracing::info!(url = %format!("http://{addr}{}", cfg.http.path), "serving MCP over Streamable HTTP");
    mcp_server::serve_on(server, listener, &cfg.http.path, shutdown_signal()).await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve { config, listen, stdio, log_format } => rt.block_on(serve(config, listen, stdio, log_format)),
        Command::CheckConfig { file } => Config::load(Some(&file)).and_then(|cfg| build(&cfg)).map(|_| {
            println!("{}: configuration is valid", file.display());
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
