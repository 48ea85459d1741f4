//! The `mcp-server` binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

mod cli;

/// The binary's allocator: mimalloc costs fewer instructions per allocation than the system
/// allocator on the request path (feature `mimalloc`, on by default).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Evaluate the deployment checklist; exits non-zero on any failure (or warning with --strict).
    SecurityCheck {
        /// Configuration file (default: the embedded default).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: CheckFormat,
        /// Treat warnings as failures (for CI pipelines).
        #[arg(long)]
        strict: bool,
    },
    /// Verify the tamper-evident audit log.
    Audit {
        /// Configuration file (its `[audit_log]` and data dir).
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// GDPR operations on the personal data the server keeps (run with the server stopped).
    Gdpr {
        /// Configuration file.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: GdprCommand,
    },
    /// Manage the block list (the running server reloads it).
    Block {
        /// Configuration file.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: BlockCommand,
    },
    /// Inspect the authorization policy.
    Authz {
        #[command(subcommand)]
        command: AuthzCommand,
    },
    /// Manage the secret store configured in `[secrets]`.
    Secrets {
        /// Configuration file.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: SecretsCommand,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check the hash chain; exits non-zero at the first broken, removed, reordered or
    /// truncated record.
    Verify {
        /// Files to check (default: every file of the configured log, oldest first).
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum GdprCommand {
    /// Remove audit files older than the retention window.
    Purge {
        /// Days to keep (default `[gdpr] data_retention_days`, else 365).
        #[arg(long)]
        days: Option<u32>,
    },
    /// Erase every record of a client (the chain stays verifiable).
    Erase {
        /// Client (principal) id.
        #[arg(long)]
        client: String,
    },
    /// Record or show consent (`[gdpr] consent_tracking`).
    Consent {
        #[command(subcommand)]
        command: ConsentCommand,
    },
    /// Write every record about a client as one JSON document.
    Export {
        /// Client (principal) id.
        #[arg(long)]
        client: String,
        /// Output file (default stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum ConsentCommand {
    /// The client gives consent for a purpose.
    Give {
        #[arg(long)]
        client: String,
        #[arg(long)]
        purpose: String,
        /// Who records it.
        #[arg(long, default_value = "operator")]
        by: String,
    },
    /// The client withdraws consent for a purpose.
    Withdraw {
        #[arg(long)]
        client: String,
        #[arg(long)]
        purpose: String,
        /// Who records it.
        #[arg(long, default_value = "operator")]
        by: String,
    },
    /// Show a client's consent history.
    List {
        #[arg(long)]
        client: String,
    },
}

#[derive(Subcommand, Debug)]
enum BlockCommand {
    /// Show the active blocks.
    List,
    /// Block `ip:ADDRESS` or `client:ID`.
    Add {
        /// `ip:203.0.113.7` or `client:alice`.
        target: String,
        /// How long, seconds.
        #[arg(long, default_value_t = 3600)]
        secs: u64,
        /// Why (for operators).
        #[arg(long, default_value = "blocked by an operator")]
        reason: String,
    },
    /// Lift a block.
    Remove {
        /// `ip:ADDRESS` or `client:ID`.
        target: String,
    },
}

#[derive(Subcommand, Debug)]
enum AuthzCommand {
    /// Print allow/deny for a caller and an action, and the rule chain that decided it.
    Explain {
        /// Configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The action: tools/call:NAME, resources/read:URI, prompts/get:NAME, tools/list, ...
        #[arg(long)]
        call: String,
        /// A role of the caller (repeatable).
        #[arg(long)]
        role: Vec<String>,
        /// A permission of the caller (repeatable).
        #[arg(long)]
        permission: Vec<String>,
        /// An OAuth scope of the caller (repeatable).
        #[arg(long)]
        scope: Vec<String>,
        /// The caller is this `[[auth.api_keys.keys]]` entry.
        #[arg(long)]
        api_key_id: Option<String>,
        /// The caller's token claims, as JSON (`roles`, `permissions`, `scope` / `scp`).
        #[arg(long)]
        claims: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum SecretsCommand {
    /// Store a new version; the value is read from stdin (never from the command line).
    Set {
        /// Secret name, e.g. jwt/hmac.
        name: String,
    },
    /// Show a secret's versions; the value only with --reveal.
    Get {
        /// Secret name.
        name: String,
        /// Print the value to stdout.
        #[arg(long)]
        reveal: bool,
    },
    /// List secret names.
    List,
    /// Delete a secret and all its versions.
    Delete {
        /// Secret name.
        name: String,
    },
    /// Replace a secret with a generated value (the previous version stays for rollback).
    Rotate {
        /// Secret name.
        name: String,
        /// Generate this many random bytes (default 32).
        #[arg(long, conflicts_with = "alphanumeric")]
        bytes: Option<usize>,
        /// Generate this many characters of [A-Za-z0-9] instead.
        #[arg(long)]
        alphanumeric: Option<usize>,
    },
    /// Re-encrypt the local store under a new master key.
    RotateMasterKey,
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
enum CheckFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Human,
    Json,
}

/// Every secret value the process loaded, masked in log output once the store is open.
static REDACTOR: std::sync::OnceLock<std::sync::Arc<mcp_secrets::Redactor>> = std::sync::OnceLock::new();

/// stderr, with loaded secret values replaced by `[REDACTED:<name>]`.
struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match REDACTOR.get() {
            Some(r) => {
                let text = String::from_utf8_lossy(buf);
                std::io::stderr().write_all(r.redact(&text).as_bytes())?;
                Ok(buf.len())
            }
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn init_logging(cfg: &Config, format: Option<Format>) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MCP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.logging.level));
    let json = match format {
        Some(Format::Json) => true,
        Some(Format::Human) => false,
        None => cfg.logging.format == LogFormat::Json,
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(|| RedactingStderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn builder(cfg: &Config) -> mcp_server::ServerBuilder {
    let mut b = McpServer::builder(cfg.server.name.clone(), env!("CARGO_PKG_VERSION"))
        .settings(cfg.server_settings())
        .validation(cfg.validation());
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

async fn secrets_cmd(config: Option<PathBuf>, command: SecretsCommand) -> Result<(), ServerError> {
    use mcp_core::traits::SecretName;
    use mcp_secrets::VersionSelector;
    use secrecy::ExposeSecret;
    let cfg = Config::load(config.as_deref())?;
    let fail = |e: mcp_secrets::SecretsError| ServerError::Config(format!("secrets: {e}"));
    let name_of = |n: &str| {
        SecretName::parse(n).map_err(|_| {
            ServerError::Config(format!(
                "{n:?} is not a secret name: use letters, digits, '_', '.', '-' and '/' (no '..')"
            ))
        })
    };
    if let SecretsCommand::RotateMasterKey = command {
        let s = mcp_server::secrets::effective(&cfg);
        if s.backend != mcp_secrets::BackendKind::LocalEncrypted {
            return Err(ServerError::Config("rotate-master-key applies to the local_encrypted backend only".into()));
        }
        let store = mcp_secrets::local::LocalStore::open(s.local_encrypted.options(), &|v| std::env::var(v).ok())
            .map_err(fail)?;
        let key = mcp_secrets::local::MasterKey::generate().map_err(fail)?;
        eprintln!("re-encrypting {} ...", store.path().display());
        let mut line = cli::Progress::new("re-encrypting");
        let id = store
            .rotate_master_key_with_progress(key, move |done, total| {
                line.update(done as u64, done as u64, total as u64)
            })
            .await
            .map_err(fail)?;
        println!("master key rotated; new key id {id}");
        return Ok(());
    }
    let secrets = mcp_server::secrets::open(&cfg).await?;
    let store = secrets.store();
    match command {
        SecretsCommand::Set { name } => {
            let name = name_of(&name)?;
            let mut value = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut value)
                .map_err(|e| ServerError::Config(format!("cannot read the value from stdin: {e}")))?;
            while value.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                value.pop();
            }
            if value.is_empty() {
                return Err(ServerError::Config(
                    "empty value: pipe the secret on stdin, e.g. `printf %s \"$TOKEN\" | mcp-server secrets set NAME`"
                        .into(),
                ));
            }
            let version = store.write(&name, secrecy::SecretBox::new(value.into_boxed_slice())).await.map_err(fail)?;
            println!("stored {} version {version}", name.as_str());
        }
        SecretsCommand::Get { name, reveal } => {
            let name = name_of(&name)?;
            for v in store.versions(&name).await.map_err(fail)? {
                println!("{v:?}");
            }
            if reveal {
                let v = store.read(&name, &VersionSelector::Current).await.map_err(fail)?;
                println!("{}", String::from_utf8_lossy(v.value.expose_secret()));
            }
        }
        SecretsCommand::List => {
            for n in store.names().await.map_err(fail)? {
                println!("{}", n.as_str());
            }
        }
        SecretsCommand::Delete { name } => {
            let name = name_of(&name)?;
            store.remove(&name).await.map_err(fail)?;
            println!("deleted {}", name.as_str());
        }
        SecretsCommand::Rotate { name, bytes, alphanumeric } => {
            let name = name_of(&name)?;
            let generator = match alphanumeric {
                Some(len) => mcp_secrets::Generator::Alphanumeric { len },
                None => mcp_secrets::Generator::RandomBytes { len: bytes.unwrap_or(32) },
            };
            let ev = secrets.rotate(&name, &generator).await.map_err(fail)?;
            println!("rotated {} to version {}", name.as_str(), ev.version);
        }
        SecretsCommand::RotateMasterKey => {}
    }
    Ok(())
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

/// `mcp-server security-check`: the checklist for a configuration file (or the embedded
/// default), as text or JSON; the exit code says whether it passed.
fn security_check(config: Option<PathBuf>, json: bool, strict: bool) -> ExitCode {
    use mcp_server::compliance::{evaluate, exit_code, render_json, render_text, scan_config_text};
    let text = match &config {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: cannot read {}: {e} (check the path given to --config)", p.display());
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    let items = match Config::load(config.as_deref()) {
        Ok(cfg) => evaluate(&cfg, text.as_deref()),
        Err(e) => {
            eprintln!("error: {e}");
            scan_config_text(text.as_deref().unwrap_or_default())
        }
    };
    print!("{}", if json { render_json(&items) } else { render_text(&items) });
    ExitCode::from(exit_code(&items, strict))
}

/// Parse, compile the policy against the registered tools, and report what looks wrong.
fn check_config(cfg: &Config, file: &std::path::Path) -> Result<(), ServerError> {
    let server = builder(cfg).danger_allow_unauthenticated().authorization(cfg.authorization()).build()?;
    if let Some(policy) = server.authorization_policy() {
        let tools = server.tool_names();
        let tools: Vec<&str> = tools.iter().map(String::as_str).collect();
        let findings = policy.lint(&tools, &server.resource_uris(), &server.prompt_names());
        for f in &findings {
            println!("{f}");
        }
    }
    println!("{}: configuration is valid", file.display());
    Ok(())
}

/// With `[hipaa]` and a notification target: watch for suspected breaches (repeated denials on
/// PHI-tagged tools and resources). Keep the subscription for as long as the server runs.
fn breach_watch(cfg: &Config, server: &McpServer) -> Option<mcp_monitor::Subscription> {
    let target = cfg.hipaa.notification.clone().filter(|_| cfg.hipaa.enabled)?;
    let threshold = match cfg.hipaa.phi_denials_per_minute {
        0 => 5,
        n => n as usize,
    };
    let watch = mcp_server::compliance::BreachWatch::start(target, server.phi_targets(), threshold);
    let monitor = server.monitor()?;
    Some(monitor.subscribe(std::sync::Arc::new(move |e: &mcp_core::SecurityEvent| watch.observe(e))))
}

/// Drain the audit queue, write the shutdown record and fsync before exiting.
async fn close_audit(audit: Option<mcp_server::AuditLog>) {
    let Some(log) = audit else { return };
    match tokio::task::spawn_blocking(move || log.writer.shutdown()).await {
        Ok(Ok(stats)) => tracing::info!(?stats, "audit log closed"),
        Ok(Err(e)) => tracing::error!(error = %e, "the audit log did not close cleanly; run `mcp-server audit verify`"),
        Err(e) => tracing::error!(error = %e, "the audit log writer panicked"),
    }
}

/// Send the spans and metrics still queued before exiting.
async fn close_telemetry(telemetry: Option<mcp_server::TelemetryHandle>) {
    if let Some(t) = telemetry {
        t.shutdown().await;
    }
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
    mcp_server::compliance::check_hipaa(&cfg)?;
    if stdio {
        // The caller is the local user who started the process.
        let (b, audit) = builder(&cfg)
            .danger_allow_unauthenticated()
            .authorization(cfg.authorization())
            .gdpr_from_config(&cfg)?
            .audit_from_config(&cfg)?;
        let (b, telemetry) = b.telemetry_from_config(&cfg)?;
        let server = b.build()?;
        mcp_server::spawn_policy_reload_on_sighup(server.clone(), config.clone());
        tracing::info!("serving MCP on stdio");
        let served = mcp_server::stdio::serve_stdio(server).await;
        close_audit(audit).await;
        close_telemetry(telemetry).await;
        return served;
    }
    let secrets = mcp_server::secrets::open(&cfg).await?;
    let _ = REDACTOR.set(secrets.redactor().clone());
    // Kept for as long as the server runs: dropping a schedule stops it.
    let _schedules = secrets
        .start_schedules(&mcp_server::secrets::effective(&cfg))
        .map_err(|e| ServerError::Config(format!("secrets.rotation: {e}")))?;
    let (b, new_key) = builder(&cfg).secret_store(secrets.clone()).auth_from_config(&cfg).await?;
    let (b, audit) = b.protections_from_config(&cfg).await?.gdpr_from_config(&cfg)?.audit_from_config(&cfg)?;
    let (b, telemetry) = b.telemetry_from_config(&cfg)?;
    let server = b.authorization(cfg.authorization()).build()?;
    if let Some(a) = &audit {
        a.spawn_retention(&cfg);
    }
    let _breach_watch = breach_watch(&cfg, &server);
    mcp_server::spawn_policy_reload_on_sighup(server.clone(), config.clone());
    let poll = std::time::Duration::from_secs(cfg.server.secret_poll_secs.max(1));
    if let Some(a) = &audit {
        a.spawn_key_watch(&cfg, secrets.clone(), poll);
    }
    mcp_server::spawn_auth_rotation_watch(server.clone(), cfg.clone(), secrets, poll);
    if let Some(k) = &new_key {
        announce_key(&cfg, k);
    }
    let listener = mcp_transport::http::HttpServer::bind(cfg.http.clone()).await?;
    if let Some(reloader) = listener.tls_reloader() {
        spawn_sighup_reload(reloader);
    }
    let addr = listener.local_addr().map_err(|e| ServerError::Config(format!("cannot read the bound address: {e}")))?;
    let scheme = if cfg.http.tls.is_some() { "https" } else { "http" };
    tracing::info!(url = %format!("{scheme}://{addr}{}", cfg.http.path), "serving MCP over Streamable HTTP");
    mcp_server::serve_on(server, listener, &cfg.http.path, shutdown_signal()).await;
    close_audit(audit).await;
    close_telemetry(telemetry).await;
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
        Command::CheckConfig { file } => Config::load(Some(&file)).and_then(|cfg| check_config(&cfg, &file)),
        Command::Keys { command: KeysCommand::New { name, permissions, roles, config } } => {
            keys_new(config, &name, &permissions, &roles)
        }
        Command::Secrets { config, command } => rt.block_on(secrets_cmd(config, command)),
        Command::SecurityCheck { config, format, strict } => {
            return security_check(config, matches!(format, CheckFormat::Json), strict);
        }
        Command::Audit { config, command: AuditCommand::Verify { files } } => {
            Config::load(config.as_deref()).and_then(|cfg| cli::audit::verify(&cfg, files))
        }
        Command::Gdpr { config, command } => Config::load(config.as_deref()).and_then(|cfg| match command {
            GdprCommand::Purge { days } => {
                let configured = Some(cfg.gdpr.data_retention_days).filter(|d| *d > 0);
                cli::audit::purge(&cfg, days.or(configured).unwrap_or(365))
            }
            GdprCommand::Erase { client } => cli::audit::erase(&cfg, &client),
            GdprCommand::Export { client, out } => cli::audit::export(&cfg, &client, out),
            GdprCommand::Consent { command } => match command {
                ConsentCommand::Give { client, purpose, by } => cli::audit::consent(&cfg, &client, &purpose, true, &by),
                ConsentCommand::Withdraw { client, purpose, by } => {
                    cli::audit::consent(&cfg, &client, &purpose, false, &by)
                }
                ConsentCommand::List { client } => cli::audit::consent_list(&cfg, &client),
            },
        }),
        Command::Block { config, command } => Config::load(config.as_deref()).and_then(|cfg| match command {
            BlockCommand::List => cli::block::list(&cfg),
            BlockCommand::Add { target, secs, reason } => cli::block::add(&cfg, &target, secs, &reason),
            BlockCommand::Remove { target } => cli::block::remove(&cfg, &target),
        }),
        Command::Authz {
            command: AuthzCommand::Explain { config, call, role, permission, scope, api_key_id, claims },
        } => {
            let caller = cli::authz::Caller { roles: role, permissions: permission, scopes: scope, api_key_id, claims };
            match Config::load(config.as_deref()).and_then(|cfg| {
                let server = builder(&cfg).danger_allow_unauthenticated().authorization(cfg.authorization()).build()?;
                cli::authz::explain(&cfg, &server, caller, &call)
            }) {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::from(2),
                Err(e) => Err(e),
            }
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
