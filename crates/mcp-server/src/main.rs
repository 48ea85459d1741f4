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
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Make a new API key; prints it once, stores or prints only its digest.
    New {
        /// Key id (the principal id in logs and audit), e.g. client-1.
        #[arg(long)]
        name: String,
        /// Comma-separated permissions, e.g. tools,resources.
        #[arg(long, value_delimiter = ',')]
        permissions: Vec<String>,
        /// Comma-separated roles.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Configuration file (its `[auth.api_keys]` pepper, or its data dir).
        #[arg(long)]
        config: Option<PathBuf>,
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

fn builder(cfg: &Config) -> mcp_server::ServerBuilder {
    let mut b = McpServer::builder(cfg.server.name.clone(), env!("CARGO_PKG_VERSION")).settings(cfg.server_settings());
    if let Some(i) = &cfg.server.instructions {
        b = b.instructions(i.clone());
    }
    mcp_server::demo::add_demo(b)
}

/// Show a key made on first start, once, on stderr (stdout may carry the protocol).
fn announce_key(cfg: &Config, (id, key): &mcp_server::NewKey) {
    use secrecy::ExposeSecret;
    let url = format!("http://{}{}", cfg.http.listen, cfg.http.path);
    eprintln!(
        "\nCreated API key {id:?}. It is shown only now; the server keeps only its digest in {dir}.\n\n    {key}\n\nTry it:\n\n    curl -s {url} -H 'x-api-key: {key}' -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2026-07-28' -H 'mcp-method: tools/list' -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{{\"_meta\":{{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{{}}}}}}}}'\n",
        dir = cfg.server.data_dir.display(),
        key = key.expose_secret(),
    );
}

fn keys_new(config: Option<PathBuf>, name: &str, permissions: &[String], roles: &[String]) -> Result<(), ServerError> {
    use secrecy::ExposeSecret;
    let cfg = Config::load(config.as_deref())?;
    let perms: Vec<&str> = permissions.iter().map(String::as_str).collect();
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    match cfg.auth.as_ref().and_then(|a| a.api_keys.as_ref()) {
        Some(keys) => {
            let mcp_auth::SecretRef::Env(var) = &keys.pepper else {
                return Err(ServerError::Config(
                    "auth.api_keys.pepper must be { env = \"NAME\" } for `keys new`".into(),
                ));
            };
            let raw = std::env::var(var)
                .map_err(|_| ServerError::Config(format!("set {var} to the pepper (base64) first")))?;
            let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, raw.trim())
                .map_err(|_| ServerError::Config(format!("{var} must hold the pepper as base64")))?;
            let pepper = secrecy::SecretBox::new(bytes.into_boxed_slice());
            let new = mcp_auth::generate_api_key(name, &pepper, &perms, &roles, None)
                .map_err(|e| ServerError::Config(e.to_string()))?;
            println!(
                "API key for {name:?} (shown once):\n\n    {}\n\nAdd to the configuration file:\n\n{}",
                new.key.expose_secret(),
                new.config_toml
            );
        }
        None => {
            let dir = mcp_server::data_dir(&cfg);
            let (key, file) = mcp_server::add_data_dir_key(&dir, name, &perms, &roles)?;
            println!(
                "API key for {name:?} (shown once):\n\n    {}\n\nIts digest was added to {}; restart the server to load it.",
                key.expose_secret(),
                file.display()
            );
        }
    }
    Ok(())
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
    if stdio {
        // The caller is the local user who started the process.
        let server = builder(&cfg).danger_allow_unauthenticated().build()?;
        tracing::info!("serving MCP on stdio");
        return mcp_server::stdio::serve_stdio(server).await;
    }
    let (b, new_key) = builder(&cfg).auth_from_config(&cfg).await?;
    let server = b.build()?;
    if let Some(k) = &new_key {
        announce_key(&cfg, k);
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
    // One TLS crypto provider for the process (ring), before any TLS or HTTP client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve { config, listen, stdio, log_format } => rt.block_on(serve(config, listen, stdio, log_format)),
        Command::CheckConfig { file } => Config::load(Some(&file)).map(|_| {
            println!("{}: configuration is valid", file.display());
        }),
        Command::Keys { command: KeysCommand::New { name, permissions, roles, config } } => {
            keys_new(config, &name, &permissions, &roles)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
