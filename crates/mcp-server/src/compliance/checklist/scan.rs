//! The literal-secret scan of the configuration text. Reports key paths, never values.

use toml::Value;

use super::{CheckItem, Judge, Status};

const ID: &str = "no_hardcoded_secrets";
const TITLE: &str = "No hard-coded secrets in the config file";

/// Key-name suffixes that name a place, a size or a duration, not a secret
/// (`secret_id_env`, `key_path`, `max_token_bytes`, ...).
const NOT_SECRET_SUFFIXES: [&str; 10] =
    ["_env", "_path", "_paths", "_file", "_secs", "_ms", "_bytes", "_days", "_header", "_claim"];

/// Words that make a key name secret-looking.
const SECRET_WORDS: [&str; 7] = ["secret", "password", "passwd", "passphrase", "token", "credential", "private_key"];

/// Whole key names that are secrets.
const SECRET_NAMES: [&str; 3] = ["pepper", "api_key", "apikey"];

/// Query parameters that carry credentials in URLs.
const SECRET_PARAMS: [&str; 8] = ["token", "access_token", "secret", "password", "api_key", "apikey", "key", "sig"];

pub(super) fn hardcoded_secrets(text: &str) -> Vec<CheckItem> {
    let doc: Value = match toml::from_str::<toml::Table>(text) {
        Ok(t) => Value::Table(t),
        Err(_) => {
            let mut j = Judge::new("");
            j.flag(Status::Fail, "", "the file is not valid TOML, so it could not be scanned");
            return vec![j.finish(ID, TITLE, String::new())];
        }
    };
    let mut hits = Vec::new();
    walk(&doc, "", &mut hits);
    if hits.is_empty() {
        let ok = "no literal secret found (secret-named keys hold { env = ... } or { secret = ... } references)";
        return vec![Judge::new("").finish(ID, TITLE, ok.to_owned())];
    }
    hits.into_iter()
        .map(|(path, what)| {
            let mut j = Judge::new("");
            let fix = "move the value to the environment or the secret store and reference it with \
                       { env = \"NAME\" } or { secret = \"store/name\" } (or the key's *_env variant)";
            j.flag(Status::Fail, &path, format!("`{path}` holds {what} (value not shown): {fix}"));
            j.finish(ID, TITLE, String::new())
        })
        .collect()
}

/// `{ env = "..." }` or `{ secret = "..." }`: a reference, not a secret.
fn is_reference(t: &toml::Table) -> bool {
    t.len() == 1 && t.iter().all(|(k, v)| (k == "env" || k == "secret") && v.is_str())
}

fn secret_named(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace('-', "_");
    if NOT_SECRET_SUFFIXES.iter().any(|s| k.ends_with(s)) {
        return false;
    }
    SECRET_NAMES.contains(&k.as_str()) || SECRET_WORDS.iter().any(|w| k.contains(w))
}

/// What a string value gives away by its shape alone, whatever its key.
fn secret_shaped(s: &str) -> Option<&'static str> {
    if s.contains("PRIVATE KEY-----") {
        return Some("a PEM private key");
    }
    let url = reqwest::Url::parse(s).ok()?;
    if url.password().is_some() {
        return Some("a URL with a password");
    }
    let param = url.query_pairs().any(|(k, _)| SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()));
    param.then_some("a URL with a credential in its query")
}

fn walk(v: &Value, path: &str, hits: &mut Vec<(String, &'static str)>) {
    match v {
        Value::Table(t) if is_reference(t) => {}
        Value::Table(t) => {
            for (k, child) in t {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                let literal = match child {
                    Value::String(s) => !s.trim().is_empty(),
                    Value::Array(a) => a.iter().any(|x| x.as_str().is_some_and(|s| !s.trim().is_empty())),
                    _ => false,
                };
                if literal && secret_named(k) {
                    hits.push((p, "a literal secret"));
                } else {
                    walk(child, &p, hits);
                }
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                walk(child, &format!("{path}[{i}]"), hits);
            }
        }
        Value::String(s) => {
            if let Some(what) = secret_shaped(s) {
                hits.push((path.to_owned(), what));
            }
        }
        _ => {}
    }
}
