//! Masking: every secret value the process loads is registered here, and [`Redactor::redact`]
//! replaces any occurrence in text with `[REDACTED:<name>]`.
//!
//! Besides the raw value, its standard base64, URL-safe unpadded base64 and lowercase hex forms
//! are registered, since that is how binary secrets show up in text.
//!
//! Matching cost does not grow with the number of secrets: a 65,536-bit filter indexed by each
//! position's first two bytes rejects almost every position with one bit test; positions that
//! pass look up their first four bytes in a hash table of pattern prefixes and compare only those
//! candidates (longest match wins). So a scan is O(text length) plus the rare candidate compares;
//! no Aho-Corasick automaton is needed (and none is a workspace dependency). Values shorter than
//! [`MIN_REDACT_LEN`] bytes are not registered (they would mask ordinary words), and at most
//! `max_values` registrations are kept (oldest dropped first).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::digest;
use zeroize::Zeroizing;

/// Shortest value that is registered for masking.
pub const MIN_REDACT_LEN: usize = 4;
/// Default bound on registrations.
pub const DEFAULT_MAX_VALUES: usize = 10_000;

struct Pattern {
    name: Arc<str>,
    bytes: Zeroizing<Vec<u8>>,
    reg: u64,
}

#[derive(Default)]
struct Index {
    patterns: Vec<Pattern>,
    /// Bit `(b0 << 8) | b1` is set when some pattern starts with bytes b0, b1.
    filter: Vec<u64>,
    /// First four bytes of a pattern -> indices into `patterns`.
    table: HashMap<[u8; 4], Vec<usize>>,
    /// SHA-256 of (name, value) -> registration number, to ignore repeats.
    seen: HashMap<[u8; 32], u64>,
    next_reg: u64,
}

impl Index {
    fn add_to_lookup(&mut self, i: usize) {
        let b = &self.patterns[i].bytes;
        let two = (usize::from(b[0]) << 8) | usize::from(b[1]);
        self.filter[two >> 6] |= 1 << (two & 63);
        self.table.entry([b[0], b[1], b[2], b[3]]).or_default().push(i);
    }

    fn rebuild(&mut self) {
        self.filter.iter_mut().for_each(|w| *w = 0);
        self.table.clear();
        for i in 0..self.patterns.len() {
            self.add_to_lookup(i);
        }
    }

    #[inline]
    fn find_at(&self, b: &[u8], i: usize, boundary: &dyn Fn(usize) -> bool) -> Option<&Pattern> {
        let two = (usize::from(b[i]) << 8) | usize::from(b[i + 1]);
        if self.filter[two >> 6] & (1 << (two & 63)) == 0 {
            return None;
        }
        let cands = self.table.get(&[b[i], b[i + 1], b[i + 2], b[i + 3]])?;
        cands
            .iter()
            .map(|&k| &self.patterns[k])
            .filter(|p| b[i..].starts_with(&p.bytes) && boundary(i) && boundary(i + p.bytes.len()))
            .max_by_key(|p| p.bytes.len())
    }

    /// Byte ranges to replace, left to right, non-overlapping.
    fn scan(&self, b: &[u8], boundary: &dyn Fn(usize) -> bool) -> Vec<(usize, usize, Arc<str>)> {
        let mut hits = Vec::new();
        if self.patterns.is_empty() {
            return hits;
        }
        let mut i = 0;
        while i + MIN_REDACT_LEN <= b.len() {
            if let Some(p) = self.find_at(b, i, boundary) {
                hits.push((i, i + p.bytes.len(), p.name.clone()));
                i += p.bytes.len();
            } else {
                i += 1;
            }
        }
        hits
    }
}

/// The registry of loaded secret values. Shared as `Arc<Redactor>`; `Debug` shows only counts.
pub struct Redactor {
    index: RwLock<Index>,
    max_values: usize,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.index.read().map(|i| i.seen.len()).unwrap_or(0);
        f.debug_struct("Redactor").field("registered", &n).field("max_values", &self.max_values).finish()
    }
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_VALUES)
    }
}

impl Redactor {
    /// A redactor keeping at most `max_values` registrations.
    pub fn new(max_values: usize) -> Self {
        let index = Index { filter: vec![0; 1024], ..Default::default() };
        Self { index: RwLock::new(index), max_values: max_values.max(1) }
    }

    /// Register `value` as the secret `name`. Repeated registrations are ignored; values
    /// shorter than [`MIN_REDACT_LEN`] are skipped.
    pub fn register(&self, name: &str, value: &[u8]) {
        if value.len() < MIN_REDACT_LEN {
            tracing::debug!(secret = %name, "secret value too short to mask");
            return;
        }
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&(name.len() as u64).to_be_bytes());
        ctx.update(name.as_bytes());
        ctx.update(value);
        let mut d = [0u8; 32];
        d.copy_from_slice(ctx.finish().as_ref());
        if self.index.read().map(|i| i.seen.contains_key(&d)).unwrap_or(true) {
            return;
        }
        let Ok(mut idx) = self.index.write() else { return };
        if idx.seen.contains_key(&d) {
            return;
        }
        if idx.seen.len() >= self.max_values {
            let oldest = idx.patterns.iter().map(|p| p.reg).min().unwrap_or(0);
            idx.patterns.retain(|p| p.reg != oldest);
            idx.seen.retain(|_, r| *r != oldest);
            idx.rebuild();
            tracing::warn!(max = self.max_values, "redactor full; dropped the oldest registered secret value");
        }
        let reg = idx.next_reg;
        idx.next_reg += 1;
        idx.seen.insert(d, reg);
        let name: Arc<str> = Arc::from(name);
        let mut forms = vec![Zeroizing::new(value.to_vec())];
        forms.push(Zeroizing::new(STANDARD.encode(value).into_bytes()));
        forms.push(Zeroizing::new(URL_SAFE_NO_PAD.encode(value).into_bytes()));
        let mut hex = Zeroizing::new(Vec::with_capacity(value.len() * 2));
        for b in value {
            hex.extend_from_slice(format!("{b:02x}").as_bytes());
        }
        forms.push(hex);
        for bytes in forms {
            if idx.patterns.iter().any(|p| p.reg == reg && p.bytes[..] == bytes[..]) {
                continue;
            }
            idx.patterns.push(Pattern { name: name.clone(), bytes, reg });
            let i = idx.patterns.len() - 1;
            idx.add_to_lookup(i);
        }
    }

    /// Number of registered values.
    pub fn len(&self) -> usize {
        self.index.read().map(|i| i.seen.len()).unwrap_or(0)
    }

    /// No value registered yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replace every registered value in `text` with `[REDACTED:<name>]`. Borrows when nothing
    /// matched.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let Ok(idx) = self.index.read() else { return Cow::Owned("[REDACTED:redactor-unavailable]".into()) };
        let hits = idx.scan(text.as_bytes(), &|i| text.is_char_boundary(i));
        if hits.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for (start, end, name) in hits {
            out.push_str(&text[last..start]);
            out.push_str("[REDACTED:");
            out.push_str(&name);
            out.push(']');
            last = end;
        }
        out.push_str(&text[last..]);
        Cow::Owned(out)
    }

    /// [`redact`](Self::redact) for bytes (tool outputs, audit records).
    pub fn redact_bytes<'t>(&self, bytes: &'t [u8]) -> Cow<'t, [u8]> {
        let Ok(idx) = self.index.read() else { return Cow::Owned(b"[REDACTED:redactor-unavailable]".to_vec()) };
        let hits = idx.scan(bytes, &|_| true);
        if hits.is_empty() {
            return Cow::Borrowed(bytes);
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut last = 0;
        for (start, end, name) in hits {
            out.extend_from_slice(&bytes[last..start]);
            out.extend_from_slice(b"[REDACTED:");
            out.extend_from_slice(name.as_bytes());
            out.push(b']');
            last = end;
        }
        out.extend_from_slice(&bytes[last..]);
        Cow::Owned(out)
    }

    /// Whether `text` contains any registered value (canary checks).
    pub fn contains_secret(&self, text: &[u8]) -> bool {
        self.index.read().map(|idx| !idx.scan(text, &|_| true).is_empty()).unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_values_and_encodings() {
        let r = Redactor::default();
        r.register("db/pw", b"hunter2!");
        r.register("api", &[0xde, 0xad, 0xbe, 0xef, 0x01]);
        assert_eq!(r.redact("pw=hunter2! ok"), "pw=[REDACTED:db/pw] ok");
        assert_eq!(r.redact("k=deadbeef01;"), "k=[REDACTED:api];");
        assert_eq!(r.redact(&format!("b64 {}", STANDARD.encode(b"hunter2!"))), "b64 [REDACTED:db/pw]");
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
        assert_eq!(r.redact("hunter2!hunter2!"), "[REDACTED:db/pw][REDACTED:db/pw]");
        assert_eq!(r.redact_bytes(b"xhunter2!").as_ref(), b"x[REDACTED:db/pw]");
        assert!(r.contains_secret(b"..hunter2!.."));
        assert!(!format!("{r:?}").contains("hunter"));
    }

    #[test]
    fn longest_match_and_unicode() {
        let r = Redactor::default();
        r.register("short", b"abcd");
        r.register("long", b"abcdefgh");
        assert_eq!(r.redact("xxabcdefghyy abcdz"), "xx[REDACTED:long]yy [REDACTED:short]z");
        r.register("uni", "päss-wörd".as_bytes());
        assert_eq!(r.redact("é päss-wörd é"), "é [REDACTED:uni] é");
        // a binary value that is a prefix of a multi-byte character never splits it
        r.register("bin", &[0xc3, 0xa9, 0xc3, 0xa9, 0xc3]);
        assert_eq!(r.redact("ééé"), "ééé");
    }

    #[test]
    fn short_values_skipped_repeats_ignored_and_bounded() {
        let r = Redactor::new(3);
        r.register("x", b"abc");
        assert!(r.is_empty());
        r.register("a", b"aaaa1");
        r.register("a", b"aaaa1");
        assert_eq!(r.len(), 1);
        r.register("b", b"bbbb2");
        r.register("c", b"cccc3");
        r.register("d", b"dddd4");
        assert_eq!(r.len(), 3);
        assert_eq!(r.redact("aaaa1 dddd4"), "aaaa1 [REDACTED:d]");
    }

    #[test]
    fn many_secrets_scan_stays_linear() {
        let r = Redactor::new(5000);
        for i in 0..5000 {
            r.register(&format!("s{i}"), format!("tok-{i:08}-value").as_bytes());
        }
        let mut text = "lorem ipsum dolor sit amet ".repeat(400);
        text.push_str("tok-00004321-value");
        let t = std::time::Instant::now();
        let out = r.redact(&text);
        assert!(out.ends_with("[REDACTED:s4321]"));
        assert!(t.elapsed() < std::time::Duration::from_millis(50), "{:?}", t.elapsed());
    }
}
