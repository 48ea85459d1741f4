use super::*;

const HARDENED: &str = include_str!("../../../../../examples/hardened.toml");

fn parse(text: &str, env: &[(&str, &str)]) -> Config {
    Config::parse(text, env.iter().copied()).expect("config parses")
}

fn item<'a>(items: &'a [CheckItem], id: &str) -> &'a CheckItem {
    items.iter().find(|i| i.id == id).unwrap_or_else(|| panic!("no item {id}"))
}

fn not_passing(items: &[CheckItem]) -> Vec<(&'static str, Status)> {
    items.iter().filter(|i| i.status != Status::Pass).map(|i| (i.id, i.status)).collect()
}

#[test]
fn embedded_default_gives_the_documented_result() {
    // docs/compliance.md, "The embedded default": three warnings, no failure.
    let cfg = Config::load(None).expect("the embedded default loads");
    let items = evaluate(&cfg, None);
    assert_eq!(items.len(), 18);
    assert_eq!(
        not_passing(&items),
        vec![
            ("tls_all_transports", Status::Warn),
            ("strong_ciphers", Status::Warn),
            ("authorization_rules", Status::Warn),
        ]
    );
    assert_eq!(item(&items, "tls_all_transports").key, "http.tls");
    assert_eq!(item(&items, "authorization_rules").key, "authorization");
    assert_eq!(summarize(&items), Summary { pass: 15, warn: 3, fail: 0 });
    assert_eq!(exit_code(&items, false), 0);
    assert_eq!(exit_code(&items, true), 1);
    // The same with the text given explicitly.
    assert_eq!(evaluate(&cfg, Some(crate::DEFAULT_CONFIG)), items);
}

#[test]
fn hardened_example_passes_without_warnings_and_satisfies_hipaa() {
    let cfg = parse(HARDENED, &[]);
    let items = evaluate(&cfg, Some(HARDENED));
    assert_eq!(not_passing(&items), vec![], "{}", render_text(&items));
    assert_eq!(exit_code(&items, true), 0);
    crate::compliance::check_hipaa(&cfg).expect("hardened example meets every HIPAA requirement");
    assert!(cfg.hipaa.enabled && cfg.gdpr.enabled);
    assert_eq!(item(&items, "hipaa").detail, "on: every requirement required and met");
}

#[test]
fn literal_secret_fails_naming_the_key_and_never_the_value() {
    let value = "Sup3r-Secret-Value-1234567890abcdef";
    let text = format!(
        "[auth]\nmethods = [\"jwt\"]\n[auth.jwt]\nissuer = \"x\"\nalgorithms = [\"HS256\"]\n\
         [[auth.jwt.keys]]\nkid = \"k1\"\nhmac_secret = \"{value}\"\n\
         [rate_limit]\nredis_url = \"redis://app:{value}@cache:6379\"\n\
         [monitoring.alerts]\nwebhook_url = \"https://hooks.example.com/x?token={value}\"\n"
    );
    let items = scan_config_text(&text);
    let paths: Vec<&str> = items.iter().map(|i| i.key.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["auth.jwt.keys[0].hmac_secret", "monitoring.alerts.webhook_url", "rate_limit.redis_url"]);
    assert!(items.iter().all(|i| i.status == Status::Fail && i.id == "no_hardcoded_secrets"));
    let text_out = render_text(&items);
    let json_out = render_json(&items);
    for out in [&text_out, &json_out] {
        assert!(!out.contains(value), "the value leaked: {out}");
        assert!(out.contains("auth.jwt.keys[0].hmac_secret"), "{out}");
    }
    assert_eq!(exit_code(&items, false), 1);
    // Through evaluate as well (the parsed config itself is irrelevant to the scan).
    let all = evaluate(&Config::default(), Some(&text));
    assert_eq!(all.iter().filter(|i| i.id == "no_hardcoded_secrets").count(), 3);
}

#[test]
fn references_and_non_secret_keys_are_not_flagged() {
    let text = r#"
        [auth.api_keys]
        pepper = { env = "PEPPER" }
        header = "X-API-Key"
        [auth.oauth.introspection]
        client_secret = { secret = "auth/introspection" }
        [auth.oauth]
        max_token_bytes = 8192
        [secrets.vault]
        secret_id_env = "VAULT_SECRET_ID"
        [audit_log]
        key_path = "/etc/audit.key"
        [auth.jwt]
        public_key_pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"
    "#;
    let items = scan_config_text(text);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].status, Status::Pass);
    let bad = scan_config_text("[auth]\npepper = \"\"\n[x]\nprivate_key = \"-----BEGIN PRIVATE KEY-----\"\n");
    assert_eq!(bad.iter().map(|i| i.key.as_str()).collect::<Vec<_>>(), ["x.private_key"]);
    let broken = scan_config_text("[auth\n");
    assert_eq!(broken[0].status, Status::Fail);
    assert!(broken[0].detail.contains("not valid TOML"));
}

#[test]
fn weakened_settings_fail_or_warn_with_their_key() {
    let weak = r#"
        [danger]
        allow_unauthenticated = true
        [authorization]
        enabled = false
        [secrets]
        backend = "memory"
        [rate_limit]
        enabled = false
        [prompt_security]
        enabled = false
        [audit_log]
        enabled = false
        [http.security_headers]
        enabled = false
        [gdpr]
        enabled = true
    "#;
    let items = evaluate(&parse(weak, &[]), Some(weak));
    for (id, key) in [
        ("authentication_required", "danger.allow_unauthenticated"),
        ("authorization_rules", "authorization.enabled"),
        ("secrets_encrypted", "secrets.backend"),
        ("rate_limiting", "rate_limit.enabled"),
        ("input_validation", "prompt_security.enabled"),
        ("audit_logging", "audit_log.enabled"),
        ("security_headers", "http.security_headers.enabled"),
    ] {
        let i = item(&items, id);
        assert_eq!((i.status, i.key.as_str()), (Status::Fail, key), "{id}: {}", i.detail);
    }
    let g = item(&items, "gdpr");
    assert_eq!((g.status, g.key.as_str()), (Status::Warn, "gdpr.data_retention_days"));
    assert_eq!(exit_code(&items, false), 1);
}

#[test]
fn warnings_of_a_hardened_config_name_their_key() {
    let env = [
        ("MCP_HTTP__TLS__MIN_VERSION", r#""1.2""#),
        ("MCP_AUDIT_LOG__ON_FAILURE", "fail_open"),
        ("MCP_RATE_LIMIT__LIMITS", "[]"),
        ("MCP_CONTENT_VALIDATION__ALLOWED_MIME_TYPES", r#"["*/*"]"#),
        ("MCP_HTTP__CORS__ALLOWED_ORIGINS", r#"["http://app.example.com"]"#),
        ("MCP_HIPAA__AUDIT_TRAIL", "optional"),
        ("MCP_HIPAA__BREACH_NOTIFICATION", "optional"),
        ("MCP_HIPAA__NOTIFICATION__TIMEOUT_MS", "120000"),
    ];
    let items = evaluate(&parse(HARDENED, &env), Some(HARDENED));
    for (id, key) in [
        ("strong_ciphers", "http.tls.min_version"),
        ("audit_logging", "audit_log.on_failure"),
        ("rate_limiting", "rate_limit.limits"),
        ("input_validation", "content_validation.allowed_mime_types"),
        ("cors_restricted", "http.cors.allowed_origins"),
        ("hipaa", "hipaa.audit_trail"),
        ("outbound_timeouts", "hipaa.notification.timeout_ms"),
    ] {
        let i = item(&items, id);
        assert_eq!((i.status, i.key.as_str()), (Status::Warn, key), "{id}: {}", i.detail);
    }
    assert!(item(&items, "hipaa").detail.ends_with("not required: audit_trail, breach_notification"));
    let text = render_text(&items);
    assert!(text.contains("→ set http.tls.min_version"), "{text}");
    assert_eq!(exit_code(&items, false), 0);
    assert_eq!(exit_code(&items, true), 1);
}

#[test]
fn hipaa_failure_shows_in_the_checklist() {
    let items = evaluate(&parse(HARDENED, &[("MCP_AUDIT_LOG__FSYNC", "none")]), Some(HARDENED));
    let h = item(&items, "hipaa");
    assert_eq!((h.status, h.key.as_str()), (Status::Fail, "audit_log.fsync"));
    assert!(h.detail.contains("hipaa.audit_trail = \"required\""), "{}", h.detail);
}

#[test]
fn text_table_is_aligned_and_json_has_a_summary() {
    let items = evaluate(&Config::load(None).expect("default"), None);
    let text = render_text(&items);
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("PASS") || l.starts_with("WARN")).collect();
    assert_eq!(rows.len(), 18);
    let col = |l: &str| l.char_indices().skip(6).find(|(_, c)| *c != ' ').map(|(i, _)| i);
    let width = items.iter().map(|i| i.title.len()).max().expect("items");
    for r in &rows {
        assert_eq!(&r[6 + width..6 + width + 2], "  ", "{r}");
        assert_eq!(col(r), Some(6), "{r}");
    }
    assert!(text.ends_with("18 checks: 15 pass, 3 warn, 0 fail\n"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&render_json(&items)).expect("json");
    assert_eq!(v["summary"]["warn"], 3);
    assert_eq!(v["items"][0]["id"], "tls_all_transports");
    assert_eq!(v["items"][0]["status"], "warn");
    assert_eq!(v["items"][0]["key"], "http.tls");
}
