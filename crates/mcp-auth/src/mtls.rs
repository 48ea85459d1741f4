//! Mutual-TLS identity mapping. The TLS layer (`mcp-transport`) has already verified the chain,
//! revocation and key possession; this module only reads the verified certificate's names and
//! maps them to a principal and roles.

use std::collections::BTreeSet;
use std::sync::Arc;

use mcp_core::{AuthMethod, Clock, Permission, Principal};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::time::ASN1Time;

use crate::api_key::{parse_permissions, parse_roles};
use crate::config::{IdentitySource, MtlsConfig, MtlsIdentity, UnmappedCertificates};
use crate::error::{AuthError, FailureReason};

/// The names in a client certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertIdentity {
    /// Subject common name (the first, if several).
    pub common_name: Option<String>,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// URI SANs other than the SPIFFE id.
    pub uris: Vec<String>,
    /// The SPIFFE id (a `spiffe://` URI SAN); a certificate with two is refused.
    pub spiffe_id: Option<String>,
}

/// Largest certificate accepted, bytes.
const MAX_CERT_LEN: usize = 64 * 1024;

/// Read the names of a DER certificate. With `at = Some(t)`, also refuse it outside its validity
/// period.
pub fn cert_identity(der: &[u8], at: Option<std::time::SystemTime>) -> Result<CertIdentity, FailureReason> {
    if der.len() > MAX_CERT_LEN {
        return Err(FailureReason::MalformedCertificate);
    }
    let (rest, cert) = X509Certificate::from_der(der).map_err(|_| FailureReason::MalformedCertificate)?;
    if !rest.is_empty() {
        return Err(FailureReason::MalformedCertificate);
    }
    if let Some(t) = at {
        let secs = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let now = ASN1Time::from_timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
            .map_err(|_| FailureReason::MalformedCertificate)?;
        if !cert.validity().is_valid_at(now) {
            return Err(FailureReason::CertificateExpired);
        }
    }
    let mut id = CertIdentity {
        common_name: cert.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_owned),
        ..CertIdentity::default()
    };
    let san = cert.subject_alternative_name().map_err(|_| FailureReason::MalformedCertificate)?;
    for name in san.map(|s| s.value.general_names.iter()).into_iter().flatten() {
        match name {
            GeneralName::DNSName(d) => id.dns_names.push(d.to_ascii_lowercase()),
            GeneralName::URI(u) if is_spiffe(u) && id.spiffe_id.is_some() => {
                return Err(FailureReason::AmbiguousSpiffeId);
            }
            GeneralName::URI(u) if is_spiffe(u) => id.spiffe_id = Some((*u).to_owned()),
            GeneralName::URI(u) => id.uris.push((*u).to_owned()),
            _ => {}
        }
    }
    Ok(id)
}

fn is_spiffe(u: &str) -> bool {
    u.len() > 9 && u.get(..9).is_some_and(|p| p.eq_ignore_ascii_case("spiffe://"))
}

/// The trust domain of a SPIFFE id (`spiffe://<td>/path`).
fn trust_domain(spiffe_id: &str) -> &str {
    let rest = &spiffe_id[9..];
    rest.split('/').next().unwrap_or("")
}

#[derive(Debug)]
enum Matcher {
    SpiffeId(String),
    TrustDomain(String),
    Dns(String),
    Uri(String),
    CommonName(String),
}

#[derive(Debug)]
struct Rule {
    matcher: Matcher,
    id: Option<Arc<str>>,
    roles: BTreeSet<Arc<str>>,
    permissions: BTreeSet<Permission>,
}

impl Rule {
    /// The matched identity string, when this rule matches.
    fn matches<'a>(&self, c: &'a CertIdentity) -> Option<&'a str> {
        match &self.matcher {
            Matcher::SpiffeId(s) => c.spiffe_id.as_deref().filter(|id| id == s),
            Matcher::TrustDomain(td) => c.spiffe_id.as_deref().filter(|id| trust_domain(id) == td),
            Matcher::Dns(d) => c.dns_names.iter().find(|n| n.eq_ignore_ascii_case(d)).map(String::as_str),
            Matcher::Uri(u) => c.uris.iter().find(|n| *n == u).map(String::as_str),
            Matcher::CommonName(cn) => c.common_name.as_deref().filter(|n| n == cn),
        }
    }
}

/// Maps verified client certificates to principals.
#[derive(Debug)]
pub struct MtlsAuthenticator {
    rules: Vec<Rule>,
    unmapped: UnmappedCertificates,
    principal_from: Vec<IdentitySource>,
    check_validity: bool,
    clock: Arc<dyn Clock>,
}

impl MtlsAuthenticator {
    /// Build from config.
    pub fn new(cfg: &MtlsConfig, clock: Arc<dyn Clock>) -> Result<Self, AuthError> {
        if cfg.principal_from.is_empty() {
            return Err(AuthError::config("auth.mtls.principal_from is empty"));
        }
        let rules = cfg.identities.iter().enumerate().map(|(i, r)| rule(i, r)).collect::<Result<_, _>>()?;
        Ok(Self {
            rules,
            unmapped: cfg.unmapped,
            principal_from: cfg.principal_from.clone(),
            check_validity: cfg.check_validity,
            clock,
        })
    }

    /// Map a verified client certificate (DER) to a principal (`method = Mtls`).
    pub fn verify(&self, der: &[u8]) -> Result<Principal, AuthError> {
        let at = self.check_validity.then(|| self.clock.now());
        let ident = cert_identity(der, at).map_err(|r| AuthError::rejected(AuthMethod::Mtls, r))?;
        if let Some((rule, matched)) = self.rules.iter().find_map(|r| r.matches(&ident).map(|m| (r, m))) {
            let id = rule.id.clone().unwrap_or_else(|| Arc::from(matched));
            let mut p = Principal::new(id, AuthMethod::Mtls);
            p.roles = rule.roles.clone();
            p.permissions = rule.permissions.clone();
            return Ok(p);
        }
        match self.unmapped {
            UnmappedCertificates::Reject => {
                Err(AuthError::rejected(AuthMethod::Mtls, FailureReason::UnmappedCertificate))
            }
            UnmappedCertificates::Allow => self
                .principal_from
                .iter()
                .find_map(|src| match src {
                    IdentitySource::Spiffe => ident.spiffe_id.as_deref(),
                    IdentitySource::Uri => ident.uris.first().map(String::as_str),
                    IdentitySource::Dns => ident.dns_names.first().map(String::as_str),
                    IdentitySource::CommonName => ident.common_name.as_deref(),
                })
                .map(|id| Principal::new(id, AuthMethod::Mtls))
                .ok_or(AuthError::rejected(AuthMethod::Mtls, FailureReason::UnmappedCertificate)),
        }
    }
}

fn rule(i: usize, r: &MtlsIdentity) -> Result<Rule, AuthError> {
    let owner = format!("auth.mtls.identities[{i}]");
    let matchers = [
        r.spiffe_id.clone().map(Matcher::SpiffeId),
        r.spiffe_trust_domain.clone().map(Matcher::TrustDomain),
        r.dns_name.clone().map(Matcher::Dns),
        r.uri.clone().map(Matcher::Uri),
        r.common_name.clone().map(Matcher::CommonName),
    ];
    let mut set = matchers.into_iter().flatten();
    let (Some(matcher), None) = (set.next(), set.next()) else {
        return Err(AuthError::config(format!(
            "{owner}: set exactly one of spiffe_id, spiffe_trust_domain, dns_name, uri, common_name"
        )));
    };
    match &matcher {
        Matcher::SpiffeId(s) if !is_spiffe(s) || trust_domain(s).is_empty() => {
            return Err(AuthError::config(format!("{owner}: spiffe_id must be spiffe://<trust-domain>/<path>")));
        }
        Matcher::TrustDomain(td) if td.is_empty() || td.contains('/') || td.contains(':') => {
            return Err(AuthError::config(format!("{owner}: spiffe_trust_domain is a bare domain like example.org")));
        }
        Matcher::Dns(d) | Matcher::Uri(d) | Matcher::CommonName(d) if d.is_empty() => {
            return Err(AuthError::config(format!("{owner}: empty matcher")));
        }
        _ => {}
    }
    let id = match &r.id {
        Some(id) if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) => {
            return Err(AuthError::config(format!("{owner}: invalid id")));
        }
        other => other.as_deref().map(Arc::from),
    };
    Ok(Rule {
        matcher,
        id,
        roles: parse_roles(&r.roles, &owner)?,
        permissions: parse_permissions(&r.permissions, &owner)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_core::SystemClock;
    use rcgen::{CertificateParams, DnType, KeyPair, SanType};

    fn cert(cn: &str, sans: Vec<SanType>) -> Vec<u8> {
        let mut p = CertificateParams::default();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.subject_alt_names = sans;
        let key = KeyPair::generate().unwrap();
        p.self_signed(&key).unwrap().der().to_vec()
    }

    fn uri(s: &str) -> SanType {
        SanType::URI(s.try_into().unwrap())
    }

    #[test]
    fn reads_names() {
        let der = cert(
            "agent-1",
            vec![
                SanType::DnsName("Agent.Example.com".try_into().unwrap()),
                uri("spiffe://example.org/ns/prod/sa/agent"),
                uri("https://id.example/a"),
            ],
        );
        let id = cert_identity(&der, Some(std::time::SystemTime::now())).unwrap();
        assert_eq!(id.common_name.as_deref(), Some("agent-1"));
        assert_eq!(id.dns_names, vec!["agent.example.com"]);
        assert_eq!(id.spiffe_id.as_deref(), Some("spiffe://example.org/ns/prod/sa/agent"));
        assert_eq!(id.uris, vec!["https://id.example/a"]);
        let two = cert("x", vec![uri("spiffe://a.org/x"), uri("spiffe://b.org/y")]);
        assert_eq!(cert_identity(&two, None).unwrap_err(), FailureReason::AmbiguousSpiffeId);
        assert_eq!(cert_identity(b"junk", None).unwrap_err(), FailureReason::MalformedCertificate);
    }

    #[test]
    fn maps_rules_in_order() {
        let cfg: MtlsConfig = toml::from_str(
            r#"
            identities = [
              { spiffe_id = "spiffe://example.org/ns/prod/sa/admin", id = "admin-agent", roles = ["admin"] },
              { spiffe_trust_domain = "example.org", roles = ["agent"], permissions = ["tools:list"] },
              { common_name = "legacy-client", roles = ["legacy"] },
            ]
            "#,
        )
        .unwrap();
        let a = MtlsAuthenticator::new(&cfg, Arc::new(SystemClock)).unwrap();
        let p = a.verify(&cert("x", vec![uri("spiffe://example.org/ns/prod/sa/admin")])).unwrap();
        assert_eq!((&*p.id, p.roles.iter().next().map(|r| &**r)), ("admin-agent", Some("admin")));
        let p = a.verify(&cert("x", vec![uri("spiffe://example.org/ns/dev/sa/bot")])).unwrap();
        assert_eq!(&*p.id, "spiffe://example.org/ns/dev/sa/bot");
        assert_eq!(p.permissions.len(), 1);
        assert_eq!(&*a.verify(&cert("legacy-client", vec![])).unwrap().id, "legacy-client");
        let e = a.verify(&cert("stranger", vec![uri("spiffe://evil.org/x")])).unwrap_err();
        assert_eq!(e.reason(), FailureReason::UnmappedCertificate);
    }

    #[test]
    fn unmapped_allow_names_by_preference() {
        let cfg: MtlsConfig =
            toml::from_str("unmapped = \"allow\"\nprincipal_from = [\"dns\", \"common_name\"]").unwrap();
        let a = MtlsAuthenticator::new(&cfg, Arc::new(SystemClock)).unwrap();
        let p = a.verify(&cert("cn", vec![SanType::DnsName("h.example".try_into().unwrap())])).unwrap();
        assert_eq!(&*p.id, "h.example");
        assert!(p.roles.is_empty());
        assert_eq!(&*a.verify(&cert("only-cn", vec![])).unwrap().id, "only-cn");
    }

    #[test]
    fn rule_validation() {
        for bad in [
            "identities = [{ roles = [\"x\"] }]",
            "identities = [{ dns_name = \"a\", common_name = \"b\" }]",
            "identities = [{ spiffe_id = \"https://x/y\" }]",
            "identities = [{ spiffe_trust_domain = \"spiffe://x\" }]",
            "identities = [{ common_name = \"a\", permissions = [\"bad perm\"] }]",
        ] {
            let cfg: MtlsConfig = toml::from_str(bad).unwrap();
            assert!(MtlsAuthenticator::new(&cfg, Arc::new(SystemClock)).is_err(), "{bad}");
        }
    }
}
