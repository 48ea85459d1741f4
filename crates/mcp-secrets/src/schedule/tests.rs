use std::time::Instant;

use secrecy::ExposeSecret;

use super::*;
use crate::cache::CacheOptions;
use crate::memory::MemoryStore;
use crate::redact::Redactor;
use crate::store::{VersionSelector, VersionedSecretStore, secret_from};
use crate::{Secrets, SecretsConfig};

const DAY: Duration = Duration::from_secs(86_400);

/// Wall time that moves with tokio's (paused) clock.
#[derive(Debug)]
struct TokioClock {
    wall0: SystemTime,
    t0: tokio::time::Instant,
}

impl TokioClock {
    fn new() -> Arc<Self> {
        Arc::new(Self { wall0: SystemTime::now(), t0: tokio::time::Instant::now() })
    }
    fn elapsed(&self) -> Duration {
        self.t0.elapsed()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.wall0 + self.t0.elapsed()
    }
    fn instant(&self) -> Instant {
        Instant::now()
    }
}

fn n(s: &str) -> SecretName {
    SecretName::parse(s).unwrap()
}

fn setup() -> (Arc<TokioClock>, Arc<MemoryStore>, Secrets) {
    let clock = TokioClock::new();
    let store = Arc::new(MemoryStore::with_clock(10, clock.clone()));
    let secrets =
        Secrets::new(store.clone(), CacheOptions::default(), Duration::from_secs(3600), Arc::new(Redactor::default()));
    (clock, store, secrets)
}

fn cfg(toml_text: &str) -> SecretsConfig {
    toml::from_str(toml_text).unwrap()
}

const EVERY_30D: &str = r#"
backend = "memory"
[[rotation]]
name = "jwt/hmac"
every = "30d"
generator = "alphanumeric"
length = 40
"#;

#[tokio::test(start_paused = true)]
async fn a_restart_counts_from_the_current_version_not_from_startup() {
    let (clock, store, secrets) = setup();
    store.write(&n("jwt/hmac"), secret_from(b"initial-value-123456")).await.unwrap();
    // the server was down for 20 days; it starts again
    tokio::time::advance(20 * DAY).await;
    let mut events = secrets.subscribe(n("jwt/hmac"));
    let _s = secrets.start_schedules_with_clock(&cfg(EVERY_30D), clock.clone()).unwrap();
    // not rotated at startup, nor during the 10 days left
    assert!(tokio::time::timeout(10 * DAY - Duration::from_secs(60), events.recv()).await.is_err());
    let ev = events.recv().await.unwrap();
    assert_eq!(ev.version.as_str(), "2");
    let at = clock.elapsed();
    assert!(at >= 30 * DAY && at < 30 * DAY + Duration::from_secs(60), "rotated at {at:?}");
    let v = store.read(&n("jwt/hmac"), &VersionSelector::Current).await.unwrap();
    assert!(v.value.expose_secret().iter().all(u8::is_ascii_alphanumeric));
    assert_eq!(v.value.expose_secret().len(), 40);
    // and again one period later
    let ev = events.recv().await.unwrap();
    assert_eq!(ev.version.as_str(), "3");
    assert!(clock.elapsed() >= 60 * DAY && clock.elapsed() < 60 * DAY + Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn overdue_secrets_rotate_at_once_and_missing_ones_are_created() {
    let (clock, store, secrets) = setup();
    store.write(&n("jwt/hmac"), secret_from(b"initial-value-123456")).await.unwrap();
    tokio::time::advance(45 * DAY).await;
    let config = cfg(&format!("{EVERY_30D}\n[[rotation]]\nname = \"api/pepper\"\nevery = \"7d\"\n"));
    let mut events = secrets.subscribe(crate::Watch::Prefix(String::new()));
    let schedules = secrets.start_schedules_with_clock(&config, clock.clone()).unwrap();
    assert_eq!(schedules.len(), 2);
    let mut names = Vec::new();
    for _ in 0..2 {
        let ev = tokio::time::timeout(Duration::from_secs(1), events.recv()).await.unwrap().unwrap();
        names.push(ev.name.as_str().to_owned());
    }
    names.sort();
    assert_eq!(names, ["api/pepper", "jwt/hmac"]);
    assert_eq!(store.read(&n("api/pepper"), &VersionSelector::Current).await.unwrap().value.expose_secret().len(), 32);
    assert!(schedules.iter().all(RotationSchedule::is_running));
    drop(schedules);
    tokio::time::advance(60 * DAY).await;
    assert_eq!(store.versions(&n("jwt/hmac")).await.unwrap().len(), 2, "dropped schedules stop");
}

#[tokio::test(start_paused = true)]
async fn a_rotation_made_elsewhere_moves_the_next_one() {
    let (clock, store, secrets) = setup();
    store.write(&n("jwt/hmac"), secret_from(b"initial-value-123456")).await.unwrap();
    let _s = secrets.start_schedules_with_clock(&cfg(EVERY_30D), clock.clone()).unwrap();
    tokio::time::sleep(20 * DAY).await;
    // an operator (or another replica) rotates by hand on day 20
    store.write(&n("jwt/hmac"), secret_from(b"manual-value-1234567")).await.unwrap();
    let mut events = secrets.subscribe(n("jwt/hmac"));
    assert!(tokio::time::timeout(30 * DAY - Duration::from_secs(60), events.recv()).await.is_err());
    let ev = events.recv().await.unwrap();
    assert_eq!(ev.version.as_str(), "3");
    assert!(clock.elapsed() >= 50 * DAY && clock.elapsed() < 50 * DAY + Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn a_failed_rotation_is_retried_with_backoff() {
    let (clock, store, secrets) = setup();
    store.write(&n("k"), secret_from(b"initial-value-123456")).await.unwrap();
    let config = cfg("backend = \"memory\"\nrotation_grace_secs = 60\n[[rotation]]\nname = \"k\"\nevery = \"1h\"\n");
    let mut events = secrets.subscribe(n("k"));
    let _s = secrets.start_schedules_with_clock(&config, clock.clone()).unwrap();
    tokio::time::sleep(Duration::from_secs(3000)).await;
    store.set_offline(true);
    assert!(tokio::time::timeout(Duration::from_secs(1200), events.recv()).await.is_err());
    store.set_offline(false);
    let ev = tokio::time::timeout(Duration::from_secs(960), events.recv()).await.unwrap().unwrap();
    assert_eq!(ev.version.as_str(), "2");
    // the next one is an hour after the late rotation, not on the original grid
    let late = clock.elapsed();
    events.recv().await.unwrap();
    let gap = clock.elapsed() - late;
    assert!(gap >= Duration::from_secs(3600) && gap < Duration::from_secs(3660), "{gap:?}");
}

#[tokio::test(start_paused = true)]
async fn per_schedule_grace_and_quiet_rotation() {
    let (clock, store, secrets) = setup();
    store.write(&n("audit/hmac"), secret_from(b"initial-value-123456")).await.unwrap();
    tokio::time::advance(2 * DAY).await;
    let config = cfg(
        "backend = \"memory\"\n[[rotation]]\nname = \"audit/hmac\"\nevery = \"1d\"\ngrace_secs = 600\nnotify_subscribers = false\n",
    );
    let mut events = secrets.subscribe(n("audit/hmac"));
    let _s = secrets.start_schedules_with_clock(&config, clock).unwrap();
    assert_eq!(secrets.rotator().grace_for(&n("audit/hmac")), Duration::from_secs(600));
    assert_eq!(secrets.rotator().grace_for(&n("other")), Duration::from_secs(3600));
    assert!(tokio::time::timeout(Duration::from_secs(5), events.recv()).await.is_err());
    assert_eq!(store.versions(&n("audit/hmac")).await.unwrap().len(), 2, "rotated without an event");
}

#[test]
fn periods() {
    let p = |s: &str| s.parse::<Period>().map(|p| p.as_duration().as_secs());
    assert_eq!(p("90s").unwrap(), 90);
    assert_eq!(p("15m").unwrap(), 900);
    assert_eq!(p("2w").unwrap(), 14 * 86_400);
    assert_eq!(p(" 1d12h ").unwrap(), 36 * 3600);
    for bad in ["", "30", "d", "1y", "1.5d", "-1d", "1d 2h", "99999999999999999999d"] {
        assert!(p(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn config_validation() {
    let base = "backend = \"memory\"\n[[rotation]]\nname = \"k\"\n";
    let check = |extra: &str| cfg(&format!("{base}{extra}")).validate();
    assert!(check("every = \"1d\"").is_ok());
    let err = |extra: &str| check(extra).unwrap_err().to_string();
    assert!(err("every = \"30s\"").contains("between 1m"));
    assert!(err("every = \"1d\"\nlength = 8").contains("length"));
    assert!(err("every = \"1d\"\ngrace_secs = 86400").contains("shorter than every"));
    // the default grace (3600 s) must fit too
    assert!(err("every = \"30m\"").contains("grace period (3600s)"));
    assert!(err("every = \"1d\"\ngenerator = \"backend\"").contains("needs backend"));
    assert!(err("every = \"1d\"\n[[rotation]]\nname = \"k\"\nevery = \"2d\"").contains("twice"));
    let bad_name = cfg("[[rotation]]\nname = \"../x\"\nevery = \"1d\"").validate().unwrap_err();
    assert!(bad_name.to_string().contains("not a valid secret name"));
    assert!(toml::from_str::<SecretsConfig>(&format!("{base}every = \"1d\"\nttl = 3")).is_err());
    assert!(toml::from_str::<SecretsConfig>(&format!("{base}every = 86400")).is_err());
    let c = cfg(&format!("{base}every = \"1d\"\ngenerator = \"alphanumeric\""));
    assert_eq!(c.rotation[0].generator(), Generator::Alphanumeric { len: 32 });
    assert!(c.rotation[0].notify_subscribers);
}

#[tokio::test]
async fn backend_generator_needs_a_backend_that_has_one() {
    let (_, _, secrets) = setup();
    let err = secrets.rotate(&n("k"), &Generator::Backend { len: 32 }).await.unwrap_err();
    assert!(err.to_string().contains("memory secrets backend has no random generator"), "{err}");
    assert!(Generator::Backend { len: 32 }.generate().is_err());
}

/// A backend whose clock lags ours by more than a period.
#[derive(Debug)]
struct Lagging(Arc<TokioClock>, Duration);

impl Clock for Lagging {
    fn now(&self) -> SystemTime {
        self.0.now() - self.1
    }
    fn instant(&self) -> Instant {
        self.0.instant()
    }
}

#[tokio::test(start_paused = true)]
async fn a_backend_clock_lagging_by_periods_causes_no_burst() {
    let clock = TokioClock::new();
    let store = Arc::new(MemoryStore::with_clock(10, Arc::new(Lagging(clock.clone(), 10 * DAY))));
    let secrets =
        Secrets::new(store.clone(), CacheOptions::default(), Duration::from_secs(60), Arc::new(Redactor::default()));
    store.write(&n("k"), secret_from(b"initial-value-123456")).await.unwrap();
    let config = cfg("backend = \"memory\"\nrotation_grace_secs = 60\n[[rotation]]\nname = \"k\"\nevery = \"1d\"\n");
    let _s = secrets.start_schedules_with_clock(&config, clock.clone()).unwrap();
    tokio::time::sleep(DAY - Duration::from_secs(60)).await;
    // the version looked 10 days old: one rotation at once, then one per day
    assert_eq!(store.versions(&n("k")).await.unwrap().len(), 2);
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(store.versions(&n("k")).await.unwrap().len(), 3);
}
