use super::*;

/// Every requirement required and met.
const PASSING: &str = r#"
[http]
listen = "0.0.0.0:8443"
allowed_hosts = ["mcp.example.com"]
[http.tls]
cert_path = "/etc/mcp/tls/cert.pem"
key_path = "/etc/mcp/tls/key.pem"
min_version = "1.2"
cipher_suites = ["TLS13_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                 "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
[audit_log]
fsync = "every_record"
[hipaa]
enabled = true
encryption = "required"
audit_volume_encrypted = true
audit_trail = "required"
access_log = "required"
breach_notification = "required"
[hipaa.notification]
webhook_url = "https://alerts.example.com/hipaa"
"#;

fn cfg(extra_env: &[(&str, &str)]) -> Config {
    Config::parse(PASSING, extra_env.iter().copied()).expect("test config parses")
}

fn refusal(c: &Config) -> String {
    check_hipaa(c).expect_err("must refuse").to_string()
}

fn assert_names(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "{msg:?} should contain {p:?}");
    }
}

#[test]
fn a_complete_config_passes_and_disabled_checks_nothing() {
    check_hipaa(&cfg(&[])).expect("passing config");
    assert!(hipaa_findings(&cfg(&[])).is_empty());
    let mut c = Config::default();
    c.danger.allow_unauthenticated = true;
    c.secrets = Some(mcp_secrets::SecretsConfig { backend: BackendKind::Memory, ..Default::default() });
    check_hipaa(&c).expect("hipaa off: nothing is checked");
    // Enabled but every requirement optional: nothing is checked either.
    c.hipaa.enabled = true;
    check_hipaa(&c).expect("optional requirements are not checked");
}

#[test]
fn encryption_refusals_name_their_setting() {
    let mut c = cfg(&[]);
    c.http.tls = None;
    c.http.listen = "127.0.0.1:8443".parse().expect("addr");
    assert_names(&refusal(&c), &["hipaa.encryption = \"required\"", "http.tls", "[http.tls] cert_path and key_path"]);

    let mut c = cfg(&[]);
    if let Some(t) = c.http.tls.as_mut() {
        t.cipher_suites.push("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA".into());
    }
    assert_names(&refusal(&c), &["hipaa.encryption", "http.tls.cipher_suites", "AES_128_CBC_SHA", "AEAD"]);

    let c = cfg(&[("MCP_SECRETS__BACKEND", "memory")]);
    assert_names(&refusal(&c), &["hipaa.encryption", "secrets.backend = \"local_encrypted\""]);

    let c = cfg(&[("MCP_SECRETS__BACKEND", "vault"), ("MCP_SECRETS__VAULT__ADDRESS", "http://vault.internal:8200")]);
    assert_names(&refusal(&c), &["hipaa.encryption", "secrets.vault.address", "https"]);

    let c = cfg(&[("MCP_HIPAA__AUDIT_VOLUME_ENCRYPTED", "false")]);
    assert_names(
        &refusal(&c),
        &["hipaa.encryption", "does not encrypt audit files itself", "hipaa.audit_volume_encrypted = true"],
    );
}

#[test]
fn audit_trail_refusals_name_their_setting() {
    let c = cfg(&[("MCP_AUDIT_LOG__ENABLED", "false")]);
    assert_names(&refusal(&c), &["hipaa.audit_trail = \"required\"", "audit_log.enabled = true"]);

    let c = cfg(&[("MCP_AUDIT_LOG__ON_FAILURE", "fail_open")]);
    assert_names(&refusal(&c), &["hipaa.audit_trail", "audit_log.on_failure = \"fail_closed\""]);

    let c = cfg(&[("MCP_AUDIT_LOG__EVENTS", r#"["tool_execute", "resource_read"]"#)]);
    let m = refusal(&c);
    assert_names(&m, &["hipaa.audit_trail", "audit_log.events", "prompt_get", "security_event"]);
    assert!(!m.contains("tool_execute"), "{m}");

    let c = cfg(&[("MCP_AUDIT_LOG__FSYNC", "none")]);
    assert_names(&refusal(&c), &["hipaa.audit_trail", "audit_log.fsync = \"every_record\""]);
}

#[test]
fn access_log_refusals_name_their_setting() {
    let only_access = [
        ("MCP_HIPAA__AUDIT_TRAIL", "optional"),
        ("MCP_HIPAA__ENCRYPTION", "optional"),
        ("MCP_AUDIT_LOG__ENABLED", "false"),
    ];
    let m = refusal(&cfg(&only_access));
    assert_names(&m, &["hipaa.access_log = \"required\"", "audit_log.enabled = true"]);

    let m = refusal(&cfg(&[("MCP_HIPAA__AUDIT_TRAIL", "optional"), ("MCP_AUDIT_LOG__EVENTS", r#"["tool_execute"]"#)]));
    assert_names(&m, &["hipaa.access_log", "add \"resource_read\" to audit_log.events"]);

    let m = refusal(&cfg(&[("MCP_AUDIT_LOG__INCLUDE", r#"["timestamp", "method", "target"]"#)]));
    assert_names(&m, &["hipaa.access_log", "add \"client_id\" to audit_log.include"]);

    let m = refusal(&cfg(&[("MCP_AUDIT_LOG__INCLUDE", r#"["timestamp", "client_id", "method"]"#)]));
    assert_names(&m, &["hipaa.access_log", "add \"target\" to audit_log.include"]);
}

#[test]
fn breach_notification_refusals_name_their_setting() {
    let mut c = cfg(&[]);
    c.hipaa.notification = None;
    assert_names(&refusal(&c), &["hipaa.breach_notification = \"required\"", "[hipaa.notification] webhook_url"]);

    let secret_url = "http://alerts.example.com/hook?token=s3cr3t-value";
    let c = cfg(&[("MCP_HIPAA__NOTIFICATION__WEBHOOK_URL", secret_url)]);
    let m = refusal(&c);
    assert_names(&m, &["hipaa.breach_notification", "hipaa.notification.webhook_url", "https"]);
    assert!(!m.contains("s3cr3t-value") && !m.contains("alerts.example.com"), "the URL is never echoed: {m}");

    let c = cfg(&[("MCP_HIPAA__NOTIFICATION__WEBHOOK_URL", "http://127.0.0.1:9000/hook")]);
    check_hipaa(&c).expect("http to loopback is accepted");

    let mut c = cfg(&[]);
    if let Some(n) = c.hipaa.notification.as_mut() {
        n.webhook_url = None;
        n.command = Some(vec![" ".into()]);
    }
    assert_names(&refusal(&c), &["hipaa.breach_notification", "hipaa.notification.command is empty"]);

    let mut c = cfg(&[]);
    if let Some(n) = c.hipaa.notification.as_mut() {
        n.webhook_url = None;
        n.command = Some(vec!["/usr/local/bin/page-oncall".into(), "--hipaa".into()]);
    }
    check_hipaa(&c).expect("a command is a valid target");
    if let Some(n) = c.hipaa.notification.as_mut() {
        n.command = None;
    }
    assert_names(&refusal(&c), &["hipaa.breach_notification", "neither webhook_url nor command"]);

    let c = cfg(&[("MCP_HIPAA__NOTIFICATION__TIMEOUT_MS", "0")]);
    assert_names(&refusal(&c), &["hipaa.breach_notification", "hipaa.notification.timeout_ms"]);
}

#[test]
fn findings_list_every_problem_in_order() {
    let c = cfg(&[("MCP_SECRETS__BACKEND", "memory"), ("MCP_AUDIT_LOG__FSYNC", "none")]);
    let f = hipaa_findings(&c);
    assert_eq!(f.len(), 2, "{f:?}");
    assert!(f[0].starts_with("hipaa.encryption"), "{f:?}");
    assert!(f[1].starts_with("hipaa.audit_trail"), "{f:?}");
    assert_eq!(refusal(&c), format!("configuration error: {}", f[0]));
}

#[test]
fn suite_and_host_classification() {
    for s in ["TLS13_AES_128_GCM_SHA256", "TLS13_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"] {
        assert!(is_aead_suite(s), "{s}");
    }
    for s in ["TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_RC4_128_SHA"] {
        assert!(!is_aead_suite(s), "{s}");
    }
    assert!(min_version_acceptable(TlsVersion::Tls12) && min_version_acceptable(TlsVersion::Tls13));
    for h in ["localhost", "127.0.0.1", "[::1]", "LOCALHOST"] {
        assert!(is_loopback_host(h), "{h}");
    }
    for h in ["example.com", "10.0.0.1", "[2001:db8::1]"] {
        assert!(!is_loopback_host(h), "{h}");
    }
    assert!(check_target_url("ftp://example.com/x").is_err());
    assert!(check_target_url("not a url").is_err());
    assert!(check_target_url("https://example.com/x").is_ok());
}
