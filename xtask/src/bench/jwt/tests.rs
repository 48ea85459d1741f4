use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

use super::*;

const RESOURCE: &str = "http://127.0.0.1:4000/mcp";

/// Split a compact JWS into (signing input, decoded header, decoded claims, signature).
fn parts(token: &str) -> (String, serde_json::Value, serde_json::Value, Vec<u8>) {
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3, "compact JWS: {token}");
    let decode = |s: &str| URL_SAFE_NO_PAD.decode(s).expect("base64url without padding");
    let json = |s: &str| serde_json::from_slice(&decode(s)).expect("JSON segment");
    (format!("{}.{}", segments[0], segments[1]), json(segments[0]), json(segments[1]), decode(segments[2]))
}

#[test]
fn hs256_token_verifies_with_the_secret_only() {
    let secret = random_secret().expect("secret");
    assert_eq!(secret.len(), 64, "48 bytes as base64url");
    let token = mint_hs256(secret.as_bytes(), &claims(RESOURCE, 1_000));
    let (input, header, body, tag) = parts(&token);
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    assert!(hmac::verify(&key, input.as_bytes(), &tag).is_ok());
    let other = hmac::Key::new(hmac::HMAC_SHA256, random_secret().expect("secret").as_bytes());
    assert!(hmac::verify(&other, input.as_bytes(), &tag).is_err());
    assert_eq!(header, serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": "bench"}));
    assert_eq!(
        body,
        serde_json::json!({
            "iss": ISSUER, "aud": RESOURCE, "sub": "bench", "iat": 1_000, "exp": 1_000 + TOKEN_TTL_SECS,
            "permissions": ["tools"]
        })
    );
}

#[test]
fn es256_signature_verifies_with_the_public_key() {
    let signer = EsSigner::generate().expect("key pair");
    let token = signer.mint(&claims(RESOURCE, 1_000)).expect("token");
    let (input, header, body, sig) = parts(&token);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(body["aud"], RESOURCE);
    assert_eq!(sig.len(), 64, "fixed r || s");
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, signer.public_point());
    assert!(public.verify(input.as_bytes(), &sig).is_ok());
    assert!(public.verify(format!("{input}x").as_bytes(), &sig).is_err(), "another input must not verify");
    let stranger = EsSigner::generate().expect("key pair");
    let theirs = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, stranger.public_point());
    assert!(theirs.verify(input.as_bytes(), &sig).is_err(), "another key must not verify");
}

#[test]
fn spki_pem_round_trips() {
    let signer = EsSigner::generate().expect("key pair");
    let pem = signer.public_key_pem();
    let lines: Vec<&str> = pem.lines().collect();
    assert_eq!(lines.first(), Some(&"-----BEGIN PUBLIC KEY-----"));
    assert_eq!(lines.last(), Some(&"-----END PUBLIC KEY-----"));
    let body = &lines[1..lines.len() - 1];
    assert!(body.iter().all(|l| l.len() <= 64), "{pem}");
    let der = STANDARD.decode(body.concat()).expect("base64");
    assert_eq!(der.len(), 91);
    assert_eq!(der[..26], SPKI_P256_PREFIX);
    assert_eq!(&der[26..], signer.public_point());
    assert_eq!(der[26], 0x04, "uncompressed point");
}

#[test]
fn config_extends_the_default_with_jwt() {
    let text = config_toml(RESOURCE, Alg::Hs256, r#"hmac_secret = { env = "BENCH_JWT_SECRET" }"#, true);
    let doc: toml::Table = toml::from_str(&text).expect("valid TOML");
    let default: toml::Table = toml::from_str(DEFAULT_CONFIG).expect("default config");
    for (section, value) in &default {
        assert_eq!(doc.get(section), Some(value), "default section [{section}] kept");
    }
    let auth = doc["auth"].as_table().expect("[auth]");
    assert_eq!(auth["methods"], toml::Value::Array(vec!["jwt".into()]));
    assert_eq!(auth["resource"].as_str(), Some(RESOURCE));
    let jwt = auth["jwt"].as_table().expect("[auth.jwt]");
    assert_eq!(jwt["issuer"].as_str(), Some(ISSUER));
    assert_eq!(jwt["audience"], toml::Value::Array(vec![RESOURCE.into()]));
    assert_eq!(jwt["algorithms"], toml::Value::Array(vec!["HS256".into()]));
    assert!(!jwt.contains_key("cache_capacity"));
    let key = jwt["keys"].as_array().and_then(|k| k.first()).and_then(toml::Value::as_table).expect("a key");
    assert_eq!(key["kid"].as_str(), Some("bench"));
    assert_eq!(key["hmac_secret"]["env"].as_str(), Some(SECRET_ENV));

    let text =
        config_toml(RESOURCE, Alg::Es256, &format!("public_key_file = {}", toml_string("/tmp/a \"b\"\\c")), false);
    let doc: toml::Table = toml::from_str(&text).expect("valid TOML");
    let jwt = &doc["auth"]["jwt"];
    assert_eq!(jwt["algorithms"], toml::Value::Array(vec!["ES256".into()]));
    assert_eq!(jwt["cache_capacity"].as_integer(), Some(0));
    assert_eq!(jwt["keys"][0]["public_key_file"].as_str(), Some("/tmp/a \"b\"\\c"));
}

#[test]
fn setup_writes_the_files_the_token_needs() {
    let dir = std::env::temp_dir().join(format!("xtask-jwt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let addr: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
    let hs = setup(Alg::Hs256, &dir, "hs", addr, true).expect("HS256 setup");
    let [(name, secret)] = hs.env.as_slice() else { panic!("want one variable, got {}", hs.env.len()) };
    assert_eq!(*name, SECRET_ENV);
    let (input, _, body, tag) = parts(&hs.token);
    assert_eq!(body["aud"], RESOURCE);
    assert!(hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()), input.as_bytes(), &tag).is_ok());
    let text = std::fs::read_to_string(&hs.config).expect("config written");
    assert!(!text.contains(secret.as_str()), "the secret stays out of the file");

    let es = setup(Alg::Es256, &dir, "es", addr, true).expect("ES256 setup");
    assert!(es.env.is_empty());
    assert_eq!(es.files.len(), 2);
    let pem = std::fs::read_to_string(&es.files[1]).expect("public key written");
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    let doc: toml::Table = toml::from_str(&std::fs::read_to_string(&es.config).expect("config")).expect("TOML");
    assert_eq!(doc["auth"]["jwt"]["keys"][0]["public_key_file"].as_str(), es.files[1].to_str());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
