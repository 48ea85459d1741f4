//! The canary check of the integration run: every server it starts uses known secret values (the
//! JWT HMAC secret, the API keys and their pepper, the OAuth client secret), and at the end every
//! byte the run kept — server logs (stdout + stderr), audit files, client outputs (the HTTP
//! responses they saw), suite results — is searched for each of them, raw, hex and base64 (both
//! alphabets, at any alignment inside a longer encoding). One hit fails the run, naming the file
//! and which secret, never the value.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

use crate::util::Result;

/// The HS256 secret of the JWT server (kept in its secret store, so it is also masked in tool
/// results).
pub const JWT_SECRET: &str = "mcp-canary-jwt-secret-7c2e9a4f1b6d3e8a0c5f2b7d9e1a4c6f";

/// Files that hold a secret by design and are not output: the stores, keys and test PKI. The
/// OAuth issuer's log is the peer's (oidc-provider) own, not ours.
const NOT_OUTPUT: [&str; 6] = ["secrets.enc", "secrets.key", "audit.key", "api-key-pepper", "issuer.log", "pki"];

/// Secrets the run used, by label.
#[derive(Default)]
pub struct Canary {
    secrets: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for Canary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.secrets.iter().map(|s| &s.0)).finish()
    }
}

impl Canary {
    /// The fixed canaries; the run adds the ones it generates.
    pub fn new() -> Self {
        let mut c = Self::default();
        c.add("the JWT HMAC secret", JWT_SECRET.as_bytes());
        c
    }

    /// Watch for `value` (at least 8 bytes; shorter values would match by chance).
    pub fn add(&mut self, label: &str, value: &[u8]) {
        if value.len() >= 8 {
            self.secrets.push((label.to_owned(), value.to_vec()));
        }
    }

    /// Watch for the API-key pepper of the data dir `data_dir` (stored there in base64).
    pub fn add_pepper(&mut self, data_dir: &Path) {
        let Ok(text) = fs::read_to_string(data_dir.join("api-key-pepper")) else { return };
        if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(text.trim()) {
            self.add("the API-key pepper", &raw);
        }
    }

    /// Search every output file under `dir`; an error names each file and the secret it holds.
    pub fn check(&self, dir: &Path) -> Result {
        let started = std::time::Instant::now();
        let needles: Vec<(&str, Vec<Vec<u8>>)> = self.secrets.iter().map(|(l, v)| (l.as_str(), forms(v))).collect();
        let mut files = Vec::new();
        collect(dir, &mut files)?;
        let mut hits = Vec::new();
        for path in &files {
            let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            for (label, forms) in &needles {
                if forms.iter().any(|f| contains(&bytes, f)) {
                    hits.push(format!("{label} in {}", path.display()));
                }
            }
        }
        let bytes: u64 = files.iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum();
        eprintln!(
            "canary: {} secrets searched in {} files ({} KiB) in {:.2} s",
            self.secrets.len(),
            files.len(),
            bytes / 1024,
            started.elapsed().as_secs_f64()
        );
        if hits.is_empty() { Ok(()) } else { Err(format!("secret values leaked: {}", hits.join("; "))) }
    }
}

/// The value raw, in hex (both cases) and in base64 / base64url: for each of the three alignments
/// inside a longer encoding, the characters that depend on the value alone.
fn forms(value: &[u8]) -> Vec<Vec<u8>> {
    let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![value.to_vec(), hex.clone().into_bytes(), hex.to_uppercase().into_bytes()];
    for shift in 0..3usize {
        let mut shifted = vec![0u8; shift];
        shifted.extend_from_slice(value);
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let enc = engine.encode(&shifted);
            // Skip the characters that mix in the padding bytes before and the unknown bytes after.
            let start = if shift == 0 { 0 } else { 4 };
            let end = enc.len().saturating_sub(4);
            if end > start + 8 {
                out.push(enc.as_bytes()[start..end].to_vec());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?.path();
        if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| NOT_OUTPUT.contains(&n)) {
            continue;
        }
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(name: &str, content: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-canary-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("data")).expect("temp dir");
        fs::write(dir.join("server.log"), b"{\"msg\":\"served\"}\n").expect("write");
        fs::write(dir.join("data/secrets.key"), JWT_SECRET).expect("write");
        fs::write(dir.join(name), content).expect("write");
        dir
    }

    #[test]
    fn every_form_is_found_and_named() {
        let secret = JWT_SECRET.as_bytes();
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        let embedded = format!("token={}", STANDARD_NO_PAD.encode([b"xy".as_slice(), secret, b"z"].concat()));
        for (i, content) in
            [format!("Bearer {JWT_SECRET}"), hex.clone(), hex.to_uppercase(), URL_SAFE_NO_PAD.encode(secret), embedded]
                .iter()
                .enumerate()
        {
            let dir = dir_with(&format!("client-{i}.log"), content.as_bytes());
            let e = Canary::new().check(&dir).expect_err("a leak is found");
            assert!(e.contains("the JWT HMAC secret") && e.contains(&format!("client-{i}.log")), "{e}");
            assert!(!e.contains(JWT_SECRET), "the error never shows the value");
            let _ = fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn clean_output_and_secret_files_pass() {
        let dir = dir_with("client.log", b"result: 5, [REDACTED:jwt/hmac]");
        assert!(Canary::new().check(&dir).is_ok());
        let mut c = Canary::new();
        c.add("short", b"abc");
        assert!(c.check(&dir).is_ok(), "values under 8 bytes are not watched");
        let _ = fs::remove_dir_all(dir);
    }
}
