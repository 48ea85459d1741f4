//! The store file format, version 1 (all integers big-endian):
//!
//! ```text
//! magic            8   "MCPSECR1"
//! format_version   2   1
//! flags            2   0
//! key_id           8   HKDF fingerprint of the master key (not secret)
//! generation       8   incremented by every write
//! record_count     4
//! record * count:
//!   name_len       2
//!   name           name_len bytes (a valid SecretName)
//!   version        8
//!   created_ms     8   unix milliseconds
//!   nonce         12   fresh from the CSPRNG for every encryption
//!   ct_len         4
//!   ciphertext     ct_len bytes: AES-256-GCM(value) || 16-byte tag,
//!                  associated data = "mcp-secrets/v1" || name_len || name || version || created_ms
//! file_mac        32   HMAC-SHA-256 over every byte above (catches truncation, removed or
//!                      reordered records and header edits)
//! ```
//!
//! Records of one name are stored oldest first.

use std::collections::BTreeMap;
use std::path::Path;

use mcp_core::traits::SecretName;
use ring::aead::{Aad, NONCE_LEN, Nonce};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::key::{DerivedKeys, KEY_ID_LEN, hex};
use crate::error::SecretsError;

pub(crate) const MAGIC: &[u8; 8] = b"MCPSECR1";
pub(crate) const FORMAT_VERSION: u16 = 1;
const HEADER_LEN: usize = 8 + 2 + 2 + KEY_ID_LEN + 8 + 4;
const MAC_LEN: usize = 32;
const TAG_LEN: usize = 16;
/// Refuse to read store files larger than this.
pub(crate) const MAX_FILE_LEN: u64 = 256 * 1024 * 1024;

/// One encrypted version of one secret.
#[derive(Clone)]
pub(crate) struct Record {
    pub(crate) version: u64,
    pub(crate) created_ms: u64,
    pub(crate) nonce: [u8; NONCE_LEN],
    pub(crate) ciphertext: Vec<u8>,
}

/// The decoded (still encrypted) content of a store file.
#[derive(Clone, Default)]
pub(crate) struct StoreData {
    pub(crate) generation: u64,
    /// Versions of each secret, oldest first.
    pub(crate) secrets: BTreeMap<SecretName, Vec<Record>>,
}

impl std::fmt::Debug for StoreData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreData").field("generation", &self.generation).field("secrets", &self.secrets.len()).finish()
    }
}

fn aad(name: &SecretName, version: u64, created_ms: u64) -> Vec<u8> {
    let n = name.as_str().as_bytes();
    let mut a = Vec::with_capacity(14 + 2 + n.len() + 16);
    a.extend_from_slice(b"mcp-secrets/v1");
    a.extend_from_slice(&(n.len() as u16).to_be_bytes());
    a.extend_from_slice(n);
    a.extend_from_slice(&version.to_be_bytes());
    a.extend_from_slice(&created_ms.to_be_bytes());
    a
}

/// Encrypt `plaintext` as version `version` of `name` with a fresh random nonce.
pub(crate) fn seal(
    keys: &DerivedKeys,
    name: &SecretName,
    version: u64,
    created_ms: u64,
    plaintext: &[u8],
) -> Result<Record, SecretsError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(|_| SecretsError::Unavailable {
        backend: super::BACKEND,
        detail: "system random generator failed".into(),
    })?;
    let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
    buf.extend_from_slice(plaintext);
    keys.aead
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(name, version, created_ms)),
            &mut buf,
        )
        .map_err(|_| SecretsError::Unavailable { backend: super::BACKEND, detail: "encryption failed".into() })?;
    Ok(Record { version, created_ms, nonce, ciphertext: buf })
}

/// Decrypt a record. Failure means the key is wrong or the record was modified.
pub(crate) fn open(
    keys: &DerivedKeys,
    name: &SecretName,
    record: &Record,
    path: &Path,
) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
    let mut buf = Zeroizing::new(record.ciphertext.clone());
    let len = keys
        .aead
        .open_in_place(
            Nonce::assume_unique_for_key(record.nonce),
            Aad::from(aad(name, record.version, record.created_ms)),
            &mut buf,
        )
        .map_err(|_| SecretsError::Corrupt { path: path.to_owned(), problem: "a record failed authentication" })?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// Serialize and MAC the store.
pub(crate) fn encode(keys: &DerivedKeys, data: &StoreData) -> Vec<u8> {
    let count: usize = data.secrets.values().map(Vec::len).sum();
    let mut out = Vec::with_capacity(HEADER_LEN + MAC_LEN + count * 128);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&keys.id);
    out.extend_from_slice(&data.generation.to_be_bytes());
    out.extend_from_slice(&(count as u32).to_be_bytes());
    for (name, records) in &data.secrets {
        for r in records {
            let n = name.as_str().as_bytes();
            out.extend_from_slice(&(n.len() as u16).to_be_bytes());
            out.extend_from_slice(n);
            out.extend_from_slice(&r.version.to_be_bytes());
            out.extend_from_slice(&r.created_ms.to_be_bytes());
            out.extend_from_slice(&r.nonce);
            out.extend_from_slice(&(r.ciphertext.len() as u32).to_be_bytes());
            out.extend_from_slice(&r.ciphertext);
        }
    }
    let tag = hmac::sign(&keys.mac, &out);
    out.extend_from_slice(tag.as_ref());
    out
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Parse and verify a store file. Checks, in order: magic, format version, key id (a different
/// key is reported as such), the file MAC (any modification or truncation), then structure.
pub(crate) fn decode(keys: &DerivedKeys, bytes: &[u8], path: &Path) -> Result<StoreData, SecretsError> {
    let corrupt = |problem: &'static str| SecretsError::Corrupt { path: path.to_owned(), problem };
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(corrupt("not an mcp-secrets store file: wrong magic header"));
    }
    let mut r = Reader { buf: bytes, pos: MAGIC.len() };
    let version = r.u16().ok_or_else(|| corrupt("truncated header"))?;
    if version != FORMAT_VERSION {
        return Err(corrupt("unsupported format version: written by a newer mcp-secrets"));
    }
    let _flags = r.u16().ok_or_else(|| corrupt("truncated header"))?;
    let key_id = r.take(KEY_ID_LEN).ok_or_else(|| corrupt("truncated header"))?;
    if key_id != keys.id {
        return Err(SecretsError::WrongKey { path: path.to_owned(), expected: hex(&keys.id), found: hex(key_id) });
    }
    if bytes.len() < HEADER_LEN + MAC_LEN {
        return Err(corrupt("truncated file"));
    }
    let (body, tag) = bytes.split_at(bytes.len() - MAC_LEN);
    hmac::verify(&keys.mac, body, tag).map_err(|_| corrupt("integrity check failed: modified or truncated"))?;

    let mut r = Reader { buf: body, pos: MAGIC.len() + 2 + 2 + KEY_ID_LEN };
    let bad = || corrupt("malformed record structure");
    let generation = r.u64().ok_or_else(bad)?;
    let count = r.u32().ok_or_else(bad)?;
    let mut secrets: BTreeMap<SecretName, Vec<Record>> = BTreeMap::new();
    for _ in 0..count {
        let name_len = usize::from(r.u16().ok_or_else(bad)?);
        let name = std::str::from_utf8(r.take(name_len).ok_or_else(bad)?).map_err(|_| bad())?;
        let name = SecretName::parse(name).map_err(|_| bad())?;
        let version = r.u64().ok_or_else(bad)?;
        let created_ms = r.u64().ok_or_else(bad)?;
        let nonce: [u8; NONCE_LEN] = r.take(NONCE_LEN).ok_or_else(bad)?.try_into().map_err(|_| bad())?;
        let ct_len = r.u32().ok_or_else(bad)? as usize;
        if ct_len < TAG_LEN {
            return Err(bad());
        }
        let ciphertext = r.take(ct_len).ok_or_else(bad)?.to_vec();
        let versions = secrets.entry(name).or_default();
        if versions.last().is_some_and(|last| last.version >= version) {
            return Err(bad());
        }
        versions.push(Record { version, created_ms, nonce, ciphertext });
    }
    if r.pos != body.len() {
        return Err(corrupt("trailing bytes after the last record"));
    }
    Ok(StoreData { generation, secrets })
}

#[cfg(test)]
mod tests {
    use super::super::key::MasterKey;
    use super::*;

    fn sample(keys: &DerivedKeys) -> StoreData {
        let mut d = StoreData { generation: 3, ..Default::default() };
        let a = SecretName::parse("a").unwrap();
        let b = SecretName::parse("b/c").unwrap();
        d.secrets
            .insert(a.clone(), vec![seal(keys, &a, 1, 10, b"one").unwrap(), seal(keys, &a, 2, 20, b"two").unwrap()]);
        d.secrets.insert(b.clone(), vec![seal(keys, &b, 1, 30, b"three").unwrap()]);
        d
    }

    #[test]
    fn roundtrip() {
        let keys = MasterKey::generate().unwrap().derive();
        let bytes = encode(&keys, &sample(&keys));
        let back = decode(&keys, &bytes, Path::new("f")).unwrap();
        assert_eq!(back.generation, 3);
        let a = SecretName::parse("a").unwrap();
        let recs = &back.secrets[&a];
        assert_eq!(&open(&keys, &a, &recs[1], Path::new("f")).unwrap()[..], b"two");
        // nonces are fresh per record
        assert_ne!(recs[0].nonce, recs[1].nonce);
        // the plaintext does not appear in the file
        assert!(!bytes.windows(5).any(|w| w == b"three"));
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_detected() {
        let keys = MasterKey::generate().unwrap().derive();
        let bytes = encode(&keys, &sample(&keys));
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert!(decode(&keys, &b, Path::new("f")).is_err(), "flip at {i} undetected");
        }
        for len in 0..bytes.len() {
            assert!(decode(&keys, &bytes[..len], Path::new("f")).is_err(), "truncation to {len} undetected");
        }
    }

    #[test]
    fn wrong_key_is_named() {
        let k1 = MasterKey::generate().unwrap().derive();
        let k2 = MasterKey::generate().unwrap().derive();
        let bytes = encode(&k1, &sample(&k1));
        let err = decode(&k2, &bytes, Path::new("/x/secrets.enc")).unwrap_err();
        assert!(matches!(err, SecretsError::WrongKey { .. }));
        assert!(err.to_string().contains("/x/secrets.enc"));
    }

    #[test]
    fn records_cannot_be_swapped_between_names() {
        let keys = MasterKey::generate().unwrap().derive();
        let a = SecretName::parse("a").unwrap();
        let b = SecretName::parse("b").unwrap();
        let rec = seal(&keys, &a, 1, 1, b"value").unwrap();
        assert!(open(&keys, &b, &rec, Path::new("f")).is_err());
        let mut moved = rec.clone();
        moved.version = 2;
        assert!(open(&keys, &a, &moved, Path::new("f")).is_err());
    }
}
