//! The one integration test binary of mcp-secrets: the same conformance suite against every
//! backend compiled in (memory, local, and with `--features vault,aws` a real OpenBao dev server
//! and a real moto server started here), plus the fault cases: tampered file, wrong master key,
//! disk full, backend stopped mid-run, wrong AppRole secret_id, token renewal.
//!
//! The vault / aws tests need `MCP_TEST_BAO_BIN` / `MCP_TEST_MOTO_SERVER`; without them they
//! fail and say how to install the binaries (see tests/peers/README.md).

#![allow(clippy::unwrap_used)]

#[path = "backends/harness.rs"]
mod harness;
#[path = "backends/pinning.rs"]
mod pinning;
#[path = "backends/suite.rs"]
mod suite;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use mcp_core::ErrorKind;
use mcp_secrets::local::{KeySource, LocalOptions, LocalStore, MasterKey};
use mcp_secrets::memory::MemoryStore;
use mcp_secrets::{CacheOptions, CachedStore, Redactor, Secrets, SecretsError, VersionSelector, VersionedSecretStore};
use secrecy::ExposeSecret;
use suite::{name, val};

#[cfg_attr(not(any(feature = "vault", feature = "aws")), allow(dead_code))]
fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn local_opts(dir: &Path) -> LocalOptions {
    LocalOptions::new(dir.join("secrets.enc"), KeySource::File(dir.join("master.key")))
}

fn open_local(dir: &Path) -> Result<LocalStore, SecretsError> {
    LocalStore::open(local_opts(dir), &no_env)
}

fn cached(store: Arc<dyn VersionedSecretStore>) -> Arc<dyn VersionedSecretStore> {
    Arc::new(CachedStore::new(store, CacheOptions::default(), Some(Arc::new(Redactor::default()))))
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn memory_conformance() {
    suite::run(Arc::new(MemoryStore::default())).await;
    suite::run(cached(Arc::new(MemoryStore::default()))).await;
}

#[tokio::test]
async fn local_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open_local(dir.path()).unwrap());
    suite::run(store.clone()).await;
    suite::run(cached(store)).await;
    // the suite's secrets are all deleted again; the file and its key stay 0600
    for f in ["secrets.enc", "master.key"] {
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(dir.path().join(f)).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
}

#[tokio::test]
async fn local_tampered_file_is_refused_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_local(dir.path()).unwrap();
    store.write(&name("db/password"), val(b"correct horse battery")).await.unwrap();
    store.write(&name("api/key"), val(b"api-key-value")).await.unwrap();
    let path = dir.path().join("secrets.enc");
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(&path, &bad).unwrap();

    let err = open_local(dir.path()).unwrap_err();
    assert!(matches!(err, SecretsError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains(&path.display().to_string()), "error names the file: {err}");
    assert_eq!(err.kind(), ErrorKind::Internal);

    // the running store notices the replaced file, refuses to read garbage and to write over it
    let err = store.read(&name("db/password"), &VersionSelector::Current).await.unwrap_err();
    assert!(matches!(err, SecretsError::Corrupt { .. }), "{err}");
    let err = store.write(&name("db/password"), val(b"new")).await.unwrap_err();
    assert!(matches!(err, SecretsError::Corrupt { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bad, "a damaged file is kept for inspection, not overwritten");

    // truncation, at any length, is refused too
    for len in [good.len() - 1, good.len() - 33, 40, 7, 0] {
        std::fs::write(&path, &good[..len]).unwrap();
        let err = open_local(dir.path()).unwrap_err();
        assert!(matches!(err, SecretsError::Corrupt { .. }), "truncated to {len}: {err}");
    }

    // restoring the backup restores service
    std::fs::write(&path, &good).unwrap();
    let v = store.read(&name("db/password"), &VersionSelector::Current).await.unwrap();
    assert_eq!(v.value.expose_secret(), b"correct horse battery");
}

#[tokio::test]
async fn local_wrong_master_key_is_named_and_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_local(dir.path()).unwrap();
    store.write(&name("k"), val(b"value-under-key-1")).await.unwrap();
    let path = dir.path().join("secrets.enc");
    let before = std::fs::read(&path).unwrap();

    // another key file
    let other = tempfile::tempdir().unwrap();
    let opts = LocalOptions::new(path.clone(), KeySource::File(other.path().join("other.key")));
    std::fs::write(
        other.path().join("other.key"),
        format!("{}\n", MasterKey::generate().unwrap().to_base64().as_str()),
    )
    .unwrap();
    std::fs::set_permissions(other.path().join("other.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .unwrap();
    let err = LocalStore::open(opts, &no_env).unwrap_err();
    assert!(matches!(err, SecretsError::WrongKey { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()) && msg.contains("different master key"), "{msg}");

    // a wrong key from the environment
    let wrong = MasterKey::generate().unwrap().to_base64();
    let env = move |v: &str| (v == "MCP_SECRETS_KEY").then(|| wrong.to_string());
    let err =
        LocalStore::open(LocalOptions::new(path.clone(), KeySource::Env("MCP_SECRETS_KEY".into())), &env).unwrap_err();
    assert!(matches!(err, SecretsError::WrongKey { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // a key file others can read is refused before it is used
    std::fs::set_permissions(dir.path().join("master.key"), std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .unwrap();
    let err = open_local(dir.path()).unwrap_err();
    assert!(err.to_string().contains("chmod 600"), "{err}");
}

/// Write until the disk is full: the failed write leaves the previous file and the in-memory
/// state as they were and no temporary file behind.
async fn assert_full_disk_write_keeps_old_file(dir: &Path, store: &LocalStore, expect_os_error: &str) {
    let path = dir.join("secrets.enc");
    let before = std::fs::read(&path).unwrap();
    let files_before = files_in(dir);
    let err = store.write(&name("big/two"), val(&vec![b'b'; 40_000])).await.unwrap_err();
    assert!(matches!(err, SecretsError::Io { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    let msg = err.to_string();
    assert!(msg.contains("previous secrets file is unchanged") && msg.contains(expect_os_error), "{msg}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "old file intact");
    assert_eq!(files_in(dir), files_before, "no temporary file left");
    assert!(matches!(
        store.read(&name("big/two"), &VersionSelector::Current).await,
        Err(SecretsError::NotFound { .. })
    ));
    let reopened = open_local(dir).unwrap();
    let v = reopened.read(&name("big/one"), &VersionSelector::Current).await.unwrap();
    assert_eq!(v.value.expose_secret().len(), 40_000);
}

struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test]
async fn local_disk_full_on_tmpfs_keeps_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs"])
        .arg(dir.path())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        // Not root or no CAP_SYS_ADMIN: local_file_size_limit_keeps_old_file covers the same
        // path with RLIMIT_FSIZE, which needs no privilege.
        eprintln!("tmpfs mount not permitted here; the RLIMIT_FSIZE test covers disk-full writes");
        return;
    }
    let _unmount = Unmount(dir.path().to_owned());
    let store = open_local(dir.path()).unwrap();
    store.write(&name("big/one"), val(&vec![b'a'; 40_000])).await.unwrap();
    // Fill the file system, then free just 30 kB: too little for the next store file (~80 kB).
    let filler = dir.path().join("filler");
    let mut total = 0usize;
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {
            total += chunk.len();
        }
    }
    std::fs::write(&filler, vec![0u8; total.saturating_sub(30_000)]).unwrap();
    assert_full_disk_write_keeps_old_file(dir.path(), &store, "No space left on device").await;
}

#[tokio::test]
async fn local_file_size_limit_keeps_old_file() {
    if harness::is_child() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = open_local(dir.path()).unwrap();
    store.write(&name("big/one"), val(&vec![b'a'; 40_000])).await.unwrap();
    let path = dir.path().join("secrets.enc");
    let before = std::fs::read(&path).unwrap();
    // The child may create files of at most 48 KiB and ignores SIGXFSZ, so its write fails with
    // EFBIG the way a full disk fails with ENOSPC.
    let dir_str = dir.path().to_str().unwrap().to_owned();
    harness::run_child_test(
        "child_write_over_file_size_limit",
        &[("MCP_TEST_STORE_DIR", &dir_str)],
        Some("trap '' XFSZ; ulimit -f 48"),
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_full_disk_write_keeps_old_file_after_child(dir.path()).await;
}

async fn assert_full_disk_write_keeps_old_file_after_child(dir: &Path) {
    let files = files_in(dir);
    assert_eq!(files, ["master.key", "secrets.enc", "secrets.enc.lock"], "no temporary file left");
    let reopened = open_local(dir).unwrap();
    assert!(matches!(
        reopened.read(&name("big/two"), &VersionSelector::Current).await,
        Err(SecretsError::NotFound { .. })
    ));
}

#[tokio::test]
#[ignore = "run by local_file_size_limit_keeps_old_file in a child process"]
async fn child_write_over_file_size_limit() {
    if !harness::is_child() {
        return;
    }
    let dir = PathBuf::from(std::env::var("MCP_TEST_STORE_DIR").unwrap());
    let store = open_local(&dir).unwrap();
    assert_full_disk_write_keeps_old_file(&dir, &store, "File too large").await;
}

/// Serve from cache while the backend is down, then fail clearly once the staleness window ends.
async fn outage_scenario(store: Arc<dyn VersionedSecretStore>, stop: impl FnOnce()) {
    let secrets = Secrets::new(
        store,
        CacheOptions {
            ttl: Duration::from_millis(400),
            stale_window: Duration::from_millis(2500),
            max_entries: 100,
            retry_backoff: Duration::from_millis(200),
        },
        Duration::from_secs(60),
        Arc::new(Redactor::default()),
    );
    let n = name(&suite::unique("outage/value"));
    let never_cached = name(&suite::unique("outage/never"));
    secrets.cached().write(&n, val(b"outage-value-123")).await.unwrap();
    let start = Instant::now();
    assert_eq!(secrets.get(&n).await.unwrap().expose_secret(), b"outage-value-123");

    stop();
    tokio::time::sleep(Duration::from_millis(600)).await;
    // past the TTL, backend down: the cached value is served at once
    let t = Instant::now();
    assert_eq!(secrets.get(&n).await.unwrap().expose_secret(), b"outage-value-123");
    assert!(t.elapsed() < Duration::from_millis(50), "stale read must not wait on the backend");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(secrets.get(&n).await.unwrap().expose_secret(), b"outage-value-123");
    assert!(secrets.cached().stats().stale_served >= 2);
    // a secret that was never cached fails at once, as unavailable
    let err = secrets.get(&never_cached).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");

    // after ttl + window: a clear error naming the window and the cause, without the value
    let wait = Duration::from_millis(3100).saturating_sub(start.elapsed());
    tokio::time::sleep(wait).await;
    let err = secrets.get(&n).await.unwrap_err();
    assert!(matches!(err, SecretsError::StaleBeyondWindow { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    let msg = err.to_string();
    assert!(msg.contains("staleness window") && msg.contains("backend is down"), "{msg}");
    assert!(!msg.contains("outage-value-123"));
    assert!(secrets.cached().stats().refresh_failures >= 1);
    eprintln!("outage error: {msg}");
}

#[tokio::test]
async fn memory_outage_serves_stale_then_clear_error() {
    let mem = Arc::new(MemoryStore::default());
    let m = mem.clone();
    outage_scenario(mem, move || m.set_offline(true)).await;
}

/// Median and worst of `n` uncached current reads.
async fn cold_get_figures(store: &dyn VersionedSecretStore, label: &str) {
    let n = name(&suite::unique("cold/get"));
    store.write(&n, val(b"cold-read-value")).await.unwrap();
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        store.read(&n, &VersionSelector::Current).await.unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    eprintln!("cold get {label}: median {:?}, p90 {:?}, max {:?} (50 reads)", times[25], times[45], times[49]);
    store.remove(&n).await.unwrap();
}

#[tokio::test]
async fn local_cold_get_figures() {
    let dir = tempfile::tempdir().unwrap();
    cold_get_figures(&open_local(dir.path()).unwrap(), "local_encrypted").await;
}

/// A schedule counts from the stored version's creation time in the local file too: after a
/// "restart" 2 s into a 4 s period it rotates 2 s later, not 4 s later. Real clock.
#[tokio::test]
async fn local_schedule_counts_from_the_stored_version_time() {
    let dir = tempfile::tempdir().unwrap();
    let n = name("sched/key");
    open_local(dir.path()).unwrap().write(&n, val(b"first-value-123456")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let store = Arc::new(open_local(dir.path()).unwrap());
    let secrets =
        Secrets::new(store.clone(), CacheOptions::default(), Duration::from_secs(1), Arc::new(Redactor::default()));
    let rule: mcp_secrets::ScheduledRotation = toml::from_str("name = \"sched/key\"\nevery = \"4s\"").unwrap();
    let mut events = secrets.subscribe(n.clone());
    let started = Instant::now();
    let schedule = secrets.rotator().schedule(&rule, Arc::new(mcp_core::SystemClock)).unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap().unwrap();
    let waited = started.elapsed();
    drop(schedule);
    assert_eq!(ev.version.as_str(), "2");
    let versions = store.versions(&n).await.unwrap();
    let gap = versions[0].created.unwrap().duration_since(versions[1].created.unwrap()).unwrap();
    assert!(gap >= Duration::from_secs(4) && gap < Duration::from_millis(5500), "versions {gap:?} apart");
    assert!(waited < Duration::from_millis(3500), "waited {waited:?} after the restart");
    assert_eq!(secrets.get(&n).await.unwrap().expose_secret().len(), 32);
}

#[cfg(feature = "vault")]
mod vault_tests {
    use mcp_secrets::vault::{AppRoleCredentials, VaultStore};
    use secrecy::SecretString;

    use super::*;
    use crate::harness::Bao;

    fn cfg(addr: &str, prefix: &str) -> mcp_secrets::config::VaultConfig {
        serde_json::from_value(serde_json::json!({ "address": addr, "prefix": prefix, "timeout_secs": 5 })).unwrap()
    }

    fn creds(role_id: &str, secret_id: &str) -> AppRoleCredentials {
        AppRoleCredentials { role_id: SecretString::from(role_id), secret_id: SecretString::from(secret_id) }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn vault_conformance_policy_and_login() {
        init();
        let bao = Bao::start();
        let (role_id, secret_id) = bao.approle("mcp", "mcp", "1h", "4h");
        let store = VaultStore::connect_with(&cfg(&bao.addr, "mcp"), creds(&role_id, &secret_id)).await.unwrap();
        suite::run(Arc::new(store.clone())).await;
        suite::run(cached(Arc::new(store.clone()))).await;
        cold_get_figures(&store, "vault (OpenBao dev, loopback)").await;

        // a value an operator wrote with the CLI is readable
        bao.cli(&["kv", "put", "secret/mcp/ops/written-by-cli", "value=from-the-cli"], None);
        let v = store.read(&name("ops/written-by-cli"), &VersionSelector::Current).await.unwrap();
        assert_eq!(v.value.expose_secret(), b"from-the-cli");
        bao.cli(&["kv", "put", "secret/mcp/ops/no-value-field", "password=x"], None);
        let err = store.read(&name("ops/no-value-field"), &VersionSelector::Current).await.unwrap_err();
        assert!(err.to_string().contains("value=..."), "{err}");

        // the policy denies secret/denied/* and grants nothing outside secret/mcp/*
        for prefix in ["denied", "elsewhere"] {
            let other = VaultStore::connect_with(&cfg(&bao.addr, prefix), creds(&role_id, &secret_id)).await.unwrap();
            let err = other.write(&name("x"), val(b"value")).await.unwrap_err();
            assert!(matches!(err, SecretsError::Forbidden { .. }), "{prefix}: {err}");
            assert_eq!(err.kind(), ErrorKind::Forbidden);
            let err = other.read(&name("x"), &VersionSelector::Current).await.unwrap_err();
            assert!(matches!(err, SecretsError::Forbidden { .. }), "{prefix}: {err}");
        }
        bao.cli(&["kv", "put", "secret/denied/x", "value=root-wrote-this"], None);
        let denied = VaultStore::connect_with(&cfg(&bao.addr, "denied"), creds(&role_id, &secret_id)).await.unwrap();
        assert!(matches!(
            denied.read(&name("x"), &VersionSelector::Current).await,
            Err(SecretsError::Forbidden { .. })
        ));

        // a namespace: its own mount, AppRole and policy; invisible from the root namespace
        bao.namespace("team-a");
        let (ns_role, ns_secret) = bao.approle_ns(Some("team-a"), "mcp", "mcp", "1h", "4h");
        let mut ns_cfg = cfg(&bao.addr, "mcp");
        ns_cfg.namespace = Some("team-a".into());
        let in_ns = VaultStore::connect_with(&ns_cfg, creds(&ns_role, &ns_secret)).await.unwrap();
        suite::run(Arc::new(in_ns.clone())).await;
        in_ns.write(&name("ns/only"), val(b"namespaced-value")).await.unwrap();
        assert!(!store.names().await.unwrap().contains(&name("ns/only")));
        assert!(matches!(
            store.read(&name("ns/only"), &VersionSelector::Current).await,
            Err(SecretsError::NotFound { .. })
        ));
        // root-namespace credentials do not log in to the namespace
        let err = VaultStore::connect_with(&ns_cfg, creds(&role_id, &secret_id)).await.unwrap_err();
        assert!(matches!(err, SecretsError::BackendAuth { .. }), "{err}");

        // a wrong secret_id is refused at connect, naming the variables to check
        let err =
            VaultStore::connect_with(&cfg(&bao.addr, "mcp"), creds(&role_id, "00000000-1111-2222-3333-444444444444"))
                .await
                .unwrap_err();
        assert!(matches!(err, SecretsError::BackendAuth { .. }), "{err}");
        assert!(err.to_string().contains("VAULT_SECRET_ID"), "{err}");
        assert!(!err.to_string().contains(&secret_id));

        // from config: credentials from the variables it names
        let config: mcp_secrets::SecretsConfig = serde_json::from_value(serde_json::json!({
            "backend": "vault",
            "vault": { "address": bao.addr, "prefix": "mcp", "role_id_env": "APP_ROLE", "secret_id_env": "APP_SECRET" }
        }))
        .unwrap();
        let (r, s) = (role_id.clone(), secret_id.clone());
        let env = move |v: &str| match v {
            "APP_ROLE" => Some(r.clone()),
            "APP_SECRET" => Some(s.clone()),
            _ => None,
        };
        let secrets = mcp_secrets::build_with_env(&config, &env).await.unwrap();
        secrets.cached().write(&name("from-config"), val(b"configured-value")).await.unwrap();
        assert_eq!(secrets.get(&name("from-config")).await.unwrap().expose_secret(), b"configured-value");
        let err = mcp_secrets::build_with_env(&config, &|_| None).await.unwrap_err();
        assert!(err.to_string().contains("APP_ROLE"), "{err}");
    }

    /// The caller's TLS policy (what mcp-server builds from `[outbound_tls]`) against an OpenBao
    /// dev server listening with TLS: the right SPKI pin works (TLS 1.3 only too), a wrong pin
    /// or an untrusted CA is a clear `Tls` error at connect, never a panic.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn vault_tls_policy_with_spki_pins() {
        init();
        let bao = Bao::start_tls();
        let dir = bao.tls_dir.clone().unwrap();
        let ca = dir.join("vault-ca.pem");
        let (role_id, secret_id) = bao.approle("mcp", "mcp", "1h", "4h");
        let c = || creds(&role_id, &secret_id);
        let server_pin = pinning::spki_sha256(&dir.join("vault-cert.pem"));
        let ca_pin = pinning::spki_sha256(&ca);

        for (label, pins, tls13) in
            [("leaf pin", vec![server_pin], true), ("pin list", vec![ca_pin, server_pin], false)]
        {
            let tls = pinning::client_config(&ca, pins, tls13);
            let store = VaultStore::connect_with_options(&cfg(&bao.addr, "mcp"), c(), Some(tls)).await.unwrap();
            store.write(&name("tls/value"), val(b"over-pinned-tls")).await.unwrap();
            let v = store.read(&name("tls/value"), &VersionSelector::Current).await.unwrap();
            assert_eq!(v.value.expose_secret(), b"over-pinned-tls", "{label}");
        }

        let wrong = pinning::client_config(&ca, vec![[7u8; 32]], false);
        let err = VaultStore::connect_with_options(&cfg(&bao.addr, "mcp"), c(), Some(wrong)).await.unwrap_err();
        assert!(matches!(err, SecretsError::Tls { .. }), "{err}");
        assert!(err.to_string().contains("certificate pin mismatch for 127.0.0.1"), "{err}");
        assert!(err.to_string().contains(&bao.addr), "{err}");
        assert!(!err.to_string().contains(&secret_id));
        assert_eq!(err.kind(), ErrorKind::Unavailable);

        // the dev CA is not in the default roots: refused without a policy or ca_cert_path
        let err = VaultStore::connect_with(&cfg(&bao.addr, "mcp"), c()).await.unwrap_err();
        assert!(matches!(err, SecretsError::Tls { .. }), "{err}");
        // the config's ca_cert_path still works alone, and is refused next to a policy
        let mut with_ca = cfg(&bao.addr, "mcp");
        with_ca.ca_cert_path = Some(ca.clone());
        VaultStore::connect_with(&with_ca, c()).await.unwrap();
        let tls = pinning::client_config(&ca, vec![server_pin], false);
        let err = VaultStore::connect_with_options(&with_ca, c(), Some(tls.clone())).await.unwrap_err();
        assert!(err.to_string().contains("outbound_tls.ca_path"), "{err}");

        // through build_with_options, as the server calls it; the backend generator on the way
        let config: mcp_secrets::SecretsConfig = serde_json::from_value(serde_json::json!({
            "backend": "vault", "vault": { "address": bao.addr, "prefix": "mcp" }
        }))
        .unwrap();
        let (r, s) = (role_id.clone(), secret_id.clone());
        let env = move |v: &str| match v {
            "VAULT_ROLE_ID" => Some(r.clone()),
            "VAULT_SECRET_ID" => Some(s.clone()),
            _ => None,
        };
        let opts = mcp_secrets::BuildOptions { vault_tls: Some(tls) };
        let secrets = mcp_secrets::build_with_options(&config, &env, &opts).await.unwrap();
        let ev = secrets.rotate(&name("tls/generated"), &mcp_secrets::Generator::Backend { len: 48 }).await.unwrap();
        let v = secrets.backend().read(&name("tls/generated"), &VersionSelector::Current).await.unwrap();
        assert_eq!((v.version, v.value.expose_secret().len()), (ev.version, 48));
        let err = mcp_secrets::build_with_options(
            &config,
            &env,
            &mcp_secrets::BuildOptions { vault_tls: Some(pinning::client_config(&ca, vec![[1u8; 32]], true)) },
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("pin mismatch"), "{err}");
    }

    /// Schedules read KV v2 `created_time`: a restart 1 s into a 3 s period rotates 2 s later.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn vault_schedule_counts_from_the_kv_version_time() {
        init();
        let bao = Bao::start();
        let (role_id, secret_id) = bao.approle("mcp", "mcp", "1h", "4h");
        let store = VaultStore::connect_with(&cfg(&bao.addr, "mcp"), creds(&role_id, &secret_id)).await.unwrap();
        let n = name("sched/key");
        store.write(&n, val(b"first-value-123456")).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let secrets = Secrets::new(
            Arc::new(store.clone()),
            CacheOptions::default(),
            Duration::from_secs(1),
            Arc::new(Redactor::default()),
        );
        let rule: mcp_secrets::ScheduledRotation =
            toml::from_str("name = \"sched/key\"\nevery = \"3s\"\ngenerator = \"backend\"").unwrap();
        let mut events = secrets.subscribe(n.clone());
        let started = Instant::now();
        let schedule = secrets.rotator().schedule(&rule, Arc::new(mcp_core::SystemClock)).unwrap();
        let ev = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap().unwrap();
        let waited = started.elapsed();
        drop(schedule);
        assert_eq!(ev.version.as_str(), "2");
        assert!(waited < Duration::from_millis(2800), "waited {waited:?}");
        let versions = store.versions(&n).await.unwrap();
        let gap = versions[0].created.unwrap().duration_since(versions[1].created.unwrap()).unwrap();
        assert!(gap >= Duration::from_secs(3) && gap < Duration::from_millis(4500), "{gap:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn vault_token_renewal_and_relogin() {
        init();
        let bao = Bao::start();
        let (role_id, secret_id) = bao.approle("short", "mcp", "3s", "7s");
        let store = VaultStore::connect_with(&cfg(&bao.addr, "mcp"), creds(&role_id, &secret_id)).await.unwrap();
        let n = name("renewal/value");
        store.write(&n, val(b"renewal-value")).await.unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(11) {
            let v = store.read(&n, &VersionSelector::Current).await.unwrap();
            assert_eq!(v.value.expose_secret(), b"renewal-value");
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        let stats = store.auth_stats();
        eprintln!("vault auth over 11 s with token_ttl=3s token_max_ttl=7s: {stats:?}");
        assert!(stats.renewals >= 1, "token renewed before expiry: {stats:?}");
        assert!(stats.logins >= 2, "logged in again at max TTL: {stats:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn vault_outage_serves_stale_then_clear_error() {
        init();
        let mut bao = Bao::start();
        let (role_id, secret_id) = bao.approle("mcp", "mcp", "1h", "4h");
        let store = VaultStore::connect_with(&cfg(&bao.addr, "mcp"), creds(&role_id, &secret_id)).await.unwrap();
        let bao_ref = &mut bao;
        outage_scenario(Arc::new(store), move || bao_ref.stop()).await;
    }

    #[test]
    fn vault_build_from_process_env() {
        init();
        let bao = Bao::start();
        let (role_id, secret_id) = bao.approle("mcp", "mcp", "1h", "4h");
        harness::run_child_test(
            "vault_tests::child_vault_build_from_env",
            &[("MCP_TEST_VAULT_ADDR", &bao.addr), ("MCP_TEST_ROLE_ID", &role_id), ("MCP_TEST_SECRET_ID", &secret_id)],
            None,
        );
    }

    #[tokio::test]
    #[ignore = "run by vault_build_from_process_env in a child process"]
    async fn child_vault_build_from_env() {
        if !harness::is_child() {
            return;
        }
        init();
        let config: mcp_secrets::SecretsConfig = serde_json::from_value(serde_json::json!({
            "backend": "vault",
            "vault": {
                "address": std::env::var("MCP_TEST_VAULT_ADDR").unwrap(),
                "prefix": "mcp",
                "role_id_env": "MCP_TEST_ROLE_ID",
                "secret_id_env": "MCP_TEST_SECRET_ID"
            }
        }))
        .unwrap();
        let secrets = mcp_secrets::build(&config).await.unwrap();
        secrets.cached().write(&name("child/env"), val(b"from-env-config")).await.unwrap();
        assert_eq!(secrets.get(&name("child/env")).await.unwrap().expose_secret(), b"from-env-config");
    }
}

#[cfg(feature = "aws")]
mod aws_tests {
    use aws_sdk_secretsmanager::config::Credentials;
    use mcp_secrets::aws::AwsStore;

    use super::*;
    use crate::harness::Moto;

    fn cfg(endpoint: &str, prefix: &str, recovery_window_days: u32) -> mcp_secrets::config::AwsConfig {
        serde_json::from_value(serde_json::json!({
            "region": "us-east-1",
            "endpoint_url": endpoint,
            "prefix": prefix,
            "recovery_window_days": recovery_window_days,
            "timeout_secs": 5
        }))
        .unwrap()
    }

    fn creds() -> Option<Credentials> {
        Some(Credentials::new("testing", "testing", None, None, "mcp-secrets-tests"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aws_conformance_and_stages() {
        init();
        let moto = Moto::start();
        let store = AwsStore::connect(&cfg(&moto.endpoint, "mcp", 7), creds()).await.unwrap();
        suite::run(Arc::new(store.clone())).await;
        suite::run(cached(Arc::new(store.clone()))).await;
        let immediate = AwsStore::connect(&cfg(&moto.endpoint, "mcp/immediate", 0), creds()).await.unwrap();
        suite::run(Arc::new(immediate.clone())).await;
        cold_get_figures(&store, "aws_secrets_manager (moto, loopback)").await;

        // prefixes isolate listings
        let other = AwsStore::connect(&cfg(&moto.endpoint, "other", 0), creds()).await.unwrap();
        other.write(&name("only-here"), val(b"other-value")).await.unwrap();
        assert!(!store.names().await.unwrap().iter().any(|n| n.as_str().contains("only-here")));
        assert_eq!(other.names().await.unwrap(), vec![name("only-here")]);

        // generator = "backend": GetRandomPassword, letters and digits
        let rotator = mcp_secrets::Rotator::new(Arc::new(store.clone()), Duration::from_secs(60));
        let ev = rotator
            .rotate(&name("generated"), &mcp_secrets::Generator::Backend { len: 40 }, Default::default())
            .await
            .unwrap();
        let v = store.read(&name("generated"), &VersionSelector::Current).await.unwrap();
        assert_eq!(v.version, ev.version);
        assert_eq!(v.value.expose_secret().len(), 40);
        assert!(v.value.expose_secret().iter().all(u8::is_ascii_alphanumeric));
        assert!(matches!(store.generate_random(5000).await, Err(SecretsError::ValueSize { .. })));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aws_outage_serves_stale_then_clear_error() {
        init();
        let mut moto = Moto::start();
        let store = AwsStore::connect(&cfg(&moto.endpoint, "mcp", 0), creds()).await.unwrap();
        let moto_ref = &mut moto;
        outage_scenario(Arc::new(store), move || moto_ref.stop()).await;
    }

    #[test]
    fn aws_build_from_default_chain() {
        init();
        let moto = Moto::start();
        harness::run_child_test(
            "aws_tests::child_aws_build_from_env",
            &[
                ("MCP_TEST_AWS_ENDPOINT", &moto.endpoint),
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                ("AWS_EC2_METADATA_DISABLED", "true"),
                ("AWS_CONFIG_FILE", "/dev/null"),
                ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
            ],
            None,
        );
    }

    #[tokio::test]
    #[ignore = "run by aws_build_from_default_chain in a child process"]
    async fn child_aws_build_from_env() {
        if !harness::is_child() {
            return;
        }
        init();
        let config: mcp_secrets::SecretsConfig = serde_json::from_value(serde_json::json!({
            "backend": "aws_secrets_manager",
            "aws_secrets_manager": {
                "region": "eu-west-1",
                "endpoint_url": std::env::var("MCP_TEST_AWS_ENDPOINT").unwrap(),
                "prefix": "child",
                "recovery_window_days": 0
            }
        }))
        .unwrap();
        let secrets = mcp_secrets::build(&config).await.unwrap();
        let n = name("from-default-chain");
        secrets.cached().write(&n, val(b"chain-value")).await.unwrap();
        secrets.cached().write(&n, val(b"chain-value-2")).await.unwrap();
        assert_eq!(secrets.get(&n).await.unwrap().expose_secret(), b"chain-value-2");
        let prev = secrets.backend().read(&n, &VersionSelector::Previous).await.unwrap();
        assert_eq!(prev.value.expose_secret(), b"chain-value");
    }
}

/// Every TOML example in docs/secrets.md is a valid `[secrets]` section.
#[test]
fn docs_examples_parse() {
    #[derive(serde::Deserialize)]
    struct File {
        secrets: mcp_secrets::SecretsConfig,
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/secrets.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut blocks = 0;
    for block in doc.split("```toml\n").skip(1) {
        let toml_text = block.split("```").next().unwrap();
        let file: File =
            toml::from_str(toml_text).unwrap_or_else(|e| panic!("docs example does not parse: {e}\n{toml_text}"));
        file.secrets.validate().unwrap_or_else(|e| panic!("docs example invalid: {e}\n{toml_text}"));
        blocks += 1;
    }
    assert!(blocks >= 5, "found {blocks} toml examples");
}
