//! The conformance suite every backend must pass, run unchanged against each of them.

use std::sync::Arc;
use std::time::Duration;

use mcp_core::ErrorKind;
use mcp_core::traits::{SecretName, SecretStore};
use mcp_secrets::store::MAX_VALUE_LEN;
use mcp_secrets::{Generator, RotateOptions, Rotator, SecretsError, VersionSelector, VersionedSecretStore, Watch};
use secrecy::{ExposeSecret, SecretBox};

pub fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{tag}-{}-{nanos:08x}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub fn name(s: &str) -> SecretName {
    SecretName::parse(s).unwrap()
}

pub fn val(b: &[u8]) -> SecretBox<[u8]> {
    SecretBox::new(b.to_vec().into_boxed_slice())
}

async fn current(store: &dyn VersionedSecretStore, n: &SecretName) -> Vec<u8> {
    store.read(n, &VersionSelector::Current).await.unwrap().value.expose_secret().to_vec()
}

/// Run every conformance check against `store`, using names under a fresh directory so shared
/// backends can run it in parallel with other tests.
pub async fn run(store: Arc<dyn VersionedSecretStore>) {
    let kind = store.backend_kind();
    let dir = unique("conf");
    let a = name(&format!("{dir}/alpha"));
    let b = name(&format!("{dir}/nested/beta"));
    let bin = name(&format!("{dir}/binary"));
    eprintln!("conformance: {kind} under {dir}");

    // Name validation happens before any backend sees a name.
    for bad in ["", "/abs", "a/../b", "a//b", "sp ace", "a/./b", &"x".repeat(257)] {
        assert!(SecretName::parse(bad).is_err(), "{bad:?} accepted");
    }

    // Missing secrets.
    let err = store.read(&a, &VersionSelector::Current).await.unwrap_err();
    assert!(matches!(err, SecretsError::NotFound { .. }), "{kind}: read missing: {err}");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains(a.as_str()), "{kind}: error names the secret: {err}");
    let err = store.remove(&a).await.unwrap_err();
    assert!(matches!(err, SecretsError::NotFound { .. }), "{kind}: remove missing: {err}");
    assert!(matches!(store.versions(&a).await, Err(SecretsError::NotFound { .. })), "{kind}: versions missing");

    // Value size limits.
    assert!(matches!(store.write(&a, val(b"")).await, Err(SecretsError::ValueSize { .. })));
    assert!(matches!(store.write(&a, val(&vec![b'x'; MAX_VALUE_LEN + 1])).await, Err(SecretsError::ValueSize { .. })));

    // First version.
    let v1 = store.write(&a, val(b"first-value-1")).await.unwrap();
    assert_eq!(current(&*store, &a).await, b"first-value-1");
    let got = store.read(&a, &VersionSelector::Current).await.unwrap();
    assert_eq!(got.version, v1, "{kind}: read reports the written version");
    assert!(got.created.is_some(), "{kind}: creation time known");
    let err = store.read(&a, &VersionSelector::Previous).await.unwrap_err();
    assert!(matches!(err, SecretsError::VersionNotFound { .. }), "{kind}: previous of one version: {err}");
    let vs = store.versions(&a).await.unwrap();
    assert_eq!(vs.len(), 1, "{kind}: {vs:?}");
    assert!(vs[0].current && vs[0].id == v1);

    // Second version: the first becomes previous, and stays readable by id.
    let v2 = store.write(&a, val(b"second-value-2")).await.unwrap();
    assert_ne!(v1, v2);
    assert_eq!(current(&*store, &a).await, b"second-value-2");
    let prev = store.read(&a, &VersionSelector::Previous).await.unwrap();
    assert_eq!((prev.value.expose_secret(), &prev.version), (&b"first-value-1"[..], &v1), "{kind}: previous");
    let by_id = store.read(&a, &VersionSelector::Id(v1.clone())).await.unwrap();
    assert_eq!(by_id.value.expose_secret(), b"first-value-1");
    let vs = store.versions(&a).await.unwrap();
    assert!(vs.len() >= 2, "{kind}: {vs:?}");
    assert!(vs[0].current && vs[0].id == v2, "{kind}: newest first: {vs:?}");
    assert!(vs.iter().any(|v| v.id == v1 && !v.current));
    let unknown = mcp_secrets::VersionId::new(if v1.as_number().is_some() {
        "999999"
    } else {
        "00000000-0000-0000-0000-000000000000"
    });
    let err = store.read(&a, &VersionSelector::Id(unknown)).await.unwrap_err();
    assert!(matches!(err, SecretsError::VersionNotFound { .. }), "{kind}: unknown version: {err}");

    // Binary (non-UTF-8) values round-trip.
    let raw = [0u8, 159, 146, 150, 255, 1, 2, 3];
    store.write(&bin, val(&raw)).await.unwrap();
    assert_eq!(current(&*store, &bin).await, raw);
    // Largest value.
    store.write(&b, val(&vec![b'z'; MAX_VALUE_LEN])).await.unwrap();
    assert_eq!(current(&*store, &b).await.len(), MAX_VALUE_LEN);

    // Listing.
    let names = store.names().await.unwrap();
    for n in [&a, &b, &bin] {
        assert!(names.contains(n), "{kind}: list lacks {}: {names:?}", n.as_str());
    }
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "{kind}: list sorted");

    // Rotation: a generated value becomes current, the old one previous; subscribers hear it.
    let rotator = Rotator::new(store.clone(), Duration::from_secs(60));
    let mut sub = rotator.subscribe(Watch::Prefix(format!("{dir}/")));
    let ev = rotator.rotate(&a, &Generator::Alphanumeric { len: 24 }, RotateOptions::default()).await.unwrap();
    assert_eq!(ev.previous.as_ref(), Some(&v2));
    assert_eq!(sub.recv().await.unwrap(), ev);
    let rotated = current(&*store, &a).await;
    assert_eq!(rotated.len(), 24);
    assert!(rotated.iter().all(u8::is_ascii_alphanumeric));
    let prev = store.read(&a, &VersionSelector::Previous).await.unwrap();
    assert_eq!(prev.value.expose_secret(), b"second-value-2", "{kind}: grace: previous readable after rotation");
    rotator.rollback(&a).await.unwrap();
    assert_eq!(current(&*store, &a).await, b"second-value-2", "{kind}: rollback");

    // The plain mcp-core trait, with errors mapped to BackendError.
    let plain: &dyn SecretStore = &*store;
    let c = name(&format!("{dir}/plain"));
    plain.put(&c, val(b"plain-value")).await.unwrap();
    assert_eq!(plain.get(&c).await.unwrap().expose_secret(), b"plain-value");
    assert!(plain.list().await.unwrap().contains(&c));
    plain.delete(&c).await.unwrap();
    let e = plain.get(&c).await.unwrap_err();
    assert_eq!((e.kind, e.reason), (ErrorKind::NotFound, "secret not found"));

    // Delete removes every version; the name can be used again.
    store.remove(&a).await.unwrap();
    assert!(matches!(store.read(&a, &VersionSelector::Current).await, Err(SecretsError::NotFound { .. })));
    assert!(!store.names().await.unwrap().contains(&a), "{kind}: deleted name still listed");
    store.write(&a, val(b"reborn-value")).await.unwrap();
    assert_eq!(current(&*store, &a).await, b"reborn-value");

    for n in [&a, &b, &bin] {
        store.remove(n).await.unwrap();
    }
    eprintln!("conformance: {kind} passed");
}
