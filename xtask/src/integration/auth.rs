//! Authentication end to end through the real `mcp-server` binary, one server per method.
//!
//! - `auth/oauth/*`: npm `oidc-provider` (`crates/mcp-auth/tests/oidc/server.mjs`) on a free loopback port is the
//!   authorization server; the server runs `[auth] methods = ["oauth"]`. The Python `mcp` 2.x SDK's
//!   `ClientCredentialsOAuthProvider` and the TypeScript SDK's `ClientCredentialsProvider`
//!   (`tests/clients/py2_oauth.py`, `tests/clients/ts_oauth.mjs`) discover everything from the 401 challenge, get a
//!   token with the client_credentials grant and the RFC 8707 resource, and call `calculate`. curl checks the RFC 9728
//!   document, the challenge, a token minted for another resource (401) and a token without the required scope (403).
//! - `auth/jwt/*`: `[auth] methods = ["jwt"]` with the canary HS256 secret kept in the server's secret store; tokens
//!   minted by `tests/auth/mint_jwt.py`. The Python 2.x client calls `calculate` with a valid token; the secret sent
//!   through `echo` comes back masked; expired, `alg: none`, wrong-key and wrong-audience tokens are refused with 401.
//! - `auth/mtls/*`: a test PKI from `tests/auth/make-pki.sh` (openssl CLI); `[http.tls]` + `[http.tls.client_auth]` +
//!   `[auth] methods = ["mtls"]`. curl with the mapped client certificate calls `calculate`; no certificate, another
//!   CA's certificate and TLS 1.2 fail the handshake; a trusted but unmapped certificate gets 401.
//!
//! Refusals are also matched to the precise reason in the server's security-event log (JSON lines). Every process
//! binds 127.0.0.1 and is killed on drop; proxy variables and `MCP_*__*` config overrides are removed from every
//! child. Configs, logs, every curl response (`curl-responses.log`) and the PKI are kept in `target/integration/auth/`.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::canary::{self, Canary};
use super::peers::Peers;
use super::process::{self, Server};
use super::{Report, integration_dir};
use crate::util::{self, Result};

/// Per SDK client or helper script; a healthy client run takes about a second.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);
/// Per curl request (`--max-time`, seconds).
const CURL_MAX_TIME: &str = "10";
/// How long a security event may take to reach the server's log after the response.
const LOG_WAIT: Duration = Duration::from_secs(3);
/// The version the Python SDK 2.x ends up with (`server/discover`).
const MODERN: &str = "2026-07-28";
/// The version the TypeScript SDK negotiates with `initialize`.
const LEGACY: &str = "2025-11-25";

const OAUTH_CLIENT_ID: &str = "mcp-integration-client";
const REQUIRED_SCOPE: &str = "mcp:tools";
/// The scope the standard authorization policy maps to `admin` (the demo's `restart_server`).
const ADMIN_SCOPE: &str = "mcp:admin";
/// A second resource the issuer serves: its tokens carry this audience.
const OTHER_RESOURCE: &str = "https://other.example.com/mcp";
const JWT_ISSUER: &str = "https://jwt-issuer.integration.test";
const JWT_SECRET_ENV: &str = "MCP_TEST_JWT_SECRET";
/// Where the JWT server keeps its HS256 secret (its local secret store).
const JWT_SECRET_NAME: &str = "jwt/hmac";
const JWT_SUBJECT: &str = "jwt-client";
const MTLS_PRINCIPAL: &str = "mtls-client";

/// Environment variables that would route a child's HTTP through a proxy.
const PROXY_VARS: [&str; 8] =
    ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy"];

/// A running set of processes for one method's checks.
trait Fixture {
    fn server(&mut self) -> &mut Server;
}

/// One named check on a fixture.
type Check<F> = (&'static str, fn(&mut F) -> Result);

/// Run every method's checks, recording one line per check.
pub fn run_all(peers: &Peers, server_bin: &Path, report: &mut Report, canary: &mut Canary) {
    let dir = integration_dir().join("auth");
    let _ = fs::remove_dir_all(&dir);
    if let Err(e) = fs::create_dir_all(&dir) {
        return report.record("auth", Err(format!("cannot create {}: {e}", dir.display())));
    }
    let oauth = || {
        let fixture = OAuth::start(peers, server_bin, &dir.join("oauth"))?;
        canary.add("the OAuth client secret", fixture.client_secret.as_bytes());
        Ok(fixture)
    };
    run_group(report, "oauth", oauth, &OAuth::CHECKS);
    run_group(report, "jwt", || Jwt::start(peers, server_bin, &dir.join("jwt")), &Jwt::CHECKS);
    run_group(report, "mtls", || Mtls::start(server_bin, &dir.join("mtls"), &dir.join("pki")), &Mtls::CHECKS);
}

/// Start a fixture and run its checks; a failed start fails every check with the reason.
fn run_group<F: Fixture>(report: &mut Report, group: &str, start: impl FnOnce() -> Result<F>, checks: &[Check<F>]) {
    let t = Instant::now();
    let mut fixture = start();
    eprintln!("auth/{group}: started in {:.1} s", t.elapsed().as_secs_f64());
    for (name, check) in checks {
        let t = Instant::now();
        let result = match &mut fixture {
            Ok(f) => check(f).map_err(|e| match f.server().died() {
                Some(death) => format!("{e}; {death}"),
                None => e,
            }),
            Err(e) => Err(format!("setup failed: {e}")),
        };
        eprintln!("auth/{group}/{name}: {:.1} s", t.elapsed().as_secs_f64());
        report.record(&format!("auth/{group}/{name}"), result);
    }
}

// ------------------------------------------------------------------------------------------
// OAuth 2.1 with a real issuer

/// oidc-provider plus the server with `[auth] methods = ["oauth"]`.
#[derive(Debug)]
struct OAuth {
    server: Server,
    _issuer: Server,
    issuer: String,
    resource: String,
    client_secret: String,
    node: PathBuf,
    ts_sdk: PathBuf,
    python: PathBuf,
    dir: PathBuf,
}

impl Fixture for OAuth {
    fn server(&mut self) -> &mut Server {
        &mut self.server
    }
}

impl OAuth {
    const CHECKS: [Check<Self>; 7] = [
        ("protected-resource-metadata", Self::metadata),
        ("no-token-401-challenge", Self::no_token),
        ("py-mcp2-client-credentials", Self::python_sdk),
        ("ts-sdk-client-credentials", Self::typescript_sdk),
        ("other-audience-token-401", Self::other_audience),
        ("missing-scope-403", Self::missing_scope),
        ("authorization-step-up-403-then-200", Self::step_up),
    ];

    fn start(peers: &Peers, server_bin: &Path, dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let modules = oidc_modules()?;
        let issuer_port = process::free_port()?;
        let port = process::free_port()?;
        let issuer = format!("http://127.0.0.1:{issuer_port}");
        let resource = format!("http://127.0.0.1:{port}/mcp");
        let client_secret = random_hex(32)?;
        let resources = json!({
            &resource: {"format": "jwt", "alg": "ES256", "scope": format!("{REQUIRED_SCOPE} {ADMIN_SCOPE}"), "ttl": 300},
            OTHER_RESOURCE: {"format": "jwt", "alg": "ES256", "scope": REQUIRED_SCOPE, "ttl": 300},
        });
        let oidc_config = json!({"client": {"id": OAUTH_CLIENT_ID, "secret": client_secret}, "resources": resources});
        let mut cmd = Command::new(peers.node());
        cmd.arg(util::root().join("crates/mcp-auth/tests/oidc/server.mjs"))
            .env("OIDC_MODULES", &modules)
            .env("OIDC_PORT", issuer_port.to_string())
            .env("OIDC_CONFIG", oidc_config.to_string());
        let issuer_process = Server::start(hermetic(&mut cmd), issuer_port, &dir.join("issuer.log"))
            .map_err(|e| format!("oidc-provider did not start: {e}"))?;
        let config = format!(
            "{}[auth]\nmethods = [\"oauth\"]\nresource = {}\n\n[auth.oauth]\nissuer = {}\nrequired_scopes = [{}]\n",
            base_config(dir, port),
            quoted(&resource),
            quoted(&issuer),
            quoted(REQUIRED_SCOPE)
        );
        let server = start_server(server_bin, dir, port, &config, &[])?;
        Ok(Self {
            server,
            _issuer: issuer_process,
            issuer,
            resource,
            client_secret,
            node: peers.node(),
            ts_sdk: peers.ts_sdk_node_modules(),
            python: peers.python_mcp2(),
            dir: dir.to_path_buf(),
        })
    }

    /// The path-inserted RFC 9728 URL of the resource.
    fn metadata_url(&self) -> String {
        self.resource.replacen("/mcp", "/.well-known/oauth-protected-resource/mcp", 1)
    }

    /// Both RFC 9728 locations serve the document naming this resource and the issuer.
    fn metadata(&mut self) -> Result {
        let root = self.resource.replacen("/mcp", "/.well-known/oauth-protected-resource", 1);
        for url in [self.metadata_url(), root] {
            let reply = curl([&url])?;
            reply.expect_status(200)?;
            let doc: Value = serde_json::from_str(&reply.body).map_err(|e| format!("{url}: not JSON ({e})"))?;
            let want = [
                ("resource", json!(self.resource)),
                ("authorization_servers", json!([self.issuer])),
                ("scopes_supported", json!([REQUIRED_SCOPE])),
                ("bearer_methods_supported", json!(["header"])),
            ];
            for (key, value) in want {
                if doc[key] != value {
                    return Err(format!("{url}: {key} is {}, expected {value}", doc[key]));
                }
            }
        }
        Ok(())
    }

    /// No token: 401 with a Bearer challenge pointing at the metadata, naming the scope, without an error code.
    fn no_token(&mut self) -> Result {
        let reply = curl(tools_call(&self.resource, None))?;
        reply.expect_status(401)?;
        let challenge = reply.header("www-authenticate").ok_or("no WWW-Authenticate on the 401")?;
        let expected = format!("resource_metadata=\"{}\"", self.metadata_url());
        let ok = challenge.starts_with("Bearer ")
            && challenge.contains(&expected)
            && challenge.contains(&format!("scope=\"{REQUIRED_SCOPE}\""))
            && !challenge.contains("error=");
        if !ok {
            return Err(format!("challenge {challenge:?}, expected Bearer with {expected} and scope, no error"));
        }
        expect_json_rpc_error(&reply, -32050)
    }

    fn python_sdk(&mut self) -> Result {
        let mut cmd = python(&self.python);
        cmd.arg(util::root().join("tests/clients/py2_oauth.py"))
            .args([&self.resource, "--issuer", &self.issuer, "--client-id", OAUTH_CLIENT_ID])
            .args(["--mode", "auto", "--expect-protocol", MODERN])
            .env("MCP_OAUTH_CLIENT_SECRET", &self.client_secret);
        run_client(&mut cmd, &self.dir.join("py-mcp2-client-credentials.log"))
    }

    fn typescript_sdk(&mut self) -> Result {
        let mut cmd = Command::new(&self.node);
        cmd.arg(util::root().join("tests/clients/ts_oauth.mjs"))
            .args([&self.resource, "--issuer", &self.issuer, "--client-id", OAUTH_CLIENT_ID])
            .args(["--scope", REQUIRED_SCOPE, "--expect-protocol", LEGACY])
            .env("MCP_TS_SDK_NODE_MODULES", &self.ts_sdk)
            .env("MCP_OAUTH_CLIENT_SECRET", &self.client_secret);
        run_client(&mut cmd, &self.dir.join("ts-sdk-client-credentials.log"))
    }

    /// The issuer's token for this resource works; the same issuer's token for another resource gets 401.
    fn other_audience(&mut self) -> Result {
        let own = self.token(&self.resource, REQUIRED_SCOPE)?;
        let reply = curl(tools_call(&self.resource, Some(&own)))?;
        reply.expect_status(200).map_err(|e| format!("control: a token for this resource: {e}"))?;
        expect_calculate_result(&reply)?;
        let foreign = self.token(OTHER_RESOURCE, REQUIRED_SCOPE)?;
        let claims = jwt_claims(&foreign)?;
        if claims["aud"] != json!(OTHER_RESOURCE) && claims["aud"] != json!([OTHER_RESOURCE]) {
            return Err(format!("the issuer minted aud {} for {OTHER_RESOURCE}", claims["aud"]));
        }
        expect_refusal(
            &self.server.log,
            &tools_call(&self.resource, Some(&foreign)),
            401,
            "invalid_token",
            "wrong_audience",
        )
    }

    /// A valid token for this resource without the required scope: 403 insufficient_scope naming the scope.
    fn missing_scope(&mut self) -> Result {
        let narrow = self.token(&self.resource, "")?;
        expect_refusal(
            &self.server.log,
            &tools_call(&self.resource, Some(&narrow)),
            403,
            "insufficient_scope",
            "insufficient_scope",
        )
    }

    /// Authorization step-up: a token with only `mcp:tools` may not call the admin tool (403
    /// `insufficient_scope` naming `mcp:admin`, JSON-RPC -32055); a new token from the issuer
    /// with `mcp:admin` as well can.
    fn step_up(&mut self) -> Result {
        let narrow = self.token(&self.resource, REQUIRED_SCOPE)?;
        let reply = curl(tool_call(&self.resource, Some(&narrow), "restart_server", json!({})))?;
        reply.expect_status(403)?;
        let challenge = reply.header("www-authenticate").ok_or("no WWW-Authenticate on the 403")?;
        if !(challenge.contains("error=\"insufficient_scope\"") && challenge.contains(ADMIN_SCOPE)) {
            return Err(format!(
                "challenge {challenge:?}: want error=\"insufficient_scope\" and scope naming {ADMIN_SCOPE}"
            ));
        }
        expect_json_rpc_error(&reply, -32055)?;
        let wide = self.token(&self.resource, &format!("{REQUIRED_SCOPE} {ADMIN_SCOPE}"))?;
        let reply = curl(tool_call(&self.resource, Some(&wide), "restart_server", json!({})))?;
        reply.expect_status(200).map_err(|e| format!("after step-up: {e}: {}", reply.body))?;
        if reply.body.contains("\"error\"") || reply.body.contains("\"isError\":true") {
            return Err(format!("after step-up the call failed: {}", reply.body));
        }
        Ok(())
    }

    /// A client_credentials token from the issuer for `resource` (RFC 8707), with `scope` unless empty.
    fn token(&self, resource: &str, scope: &str) -> Result<String> {
        let mut args = vec![
            "-u".to_string(),
            format!("{OAUTH_CLIENT_ID}:{}", self.client_secret),
            "-d".into(),
            "grant_type=client_credentials".into(),
            "--data-urlencode".into(),
            format!("resource={resource}"),
        ];
        if !scope.is_empty() {
            args.extend(["--data-urlencode".into(), format!("scope={scope}")]);
        }
        args.push(format!("{}/token", self.issuer));
        let reply = curl(args)?;
        reply.expect_status(200).map_err(|e| format!("token request for {resource}: {e}: {}", reply.body))?;
        let body: Value = serde_json::from_str(&reply.body).map_err(|e| format!("token response: {e}"))?;
        body["access_token"].as_str().map(str::to_owned).ok_or_else(|| format!("no access_token in {body}"))
    }
}

/// `target/peers/oidc/node_modules` holding oidc-provider; installs it with the backends script when missing.
fn oidc_modules() -> Result<PathBuf> {
    let modules = util::root().join("target/peers/oidc/node_modules");
    if !modules.join("oidc-provider/package.json").is_file() {
        let mut cmd = Command::new("bash");
        cmd.arg("tests/peers/install-backends.sh").current_dir(util::root()).stdout(std::io::stderr());
        util::run(&mut cmd)?;
    }
    if modules.join("oidc-provider/package.json").is_file() {
        Ok(modules)
    } else {
        Err(format!("no oidc-provider in {} after tests/peers/install-backends.sh", modules.display()))
    }
}

/// The claims of a JWT, unverified (to check what the issuer minted).
fn jwt_claims(token: &str) -> Result<Value> {
    let payload = token.split('.').nth(1).ok_or("the access token is not a JWT")?;
    let bytes = base64url_decode(payload).ok_or("the access token's payload is not base64url")?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the access token's payload is not JSON: {e}"))
}

fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Some(out)
}

// ------------------------------------------------------------------------------------------
// JWT HS256

/// The server with `[auth] methods = ["jwt"]` and the canary HS256 secret from its secret store.
#[derive(Debug)]
struct Jwt {
    server: Server,
    resource: String,
    secret: String,
    python: PathBuf,
    dir: PathBuf,
}

impl Fixture for Jwt {
    fn server(&mut self) -> &mut Server {
        &mut self.server
    }
}

impl Jwt {
    const CHECKS: [Check<Self>; 6] = [
        ("py-mcp2-hs256", Self::python_sdk),
        ("echoed-secret-masked", Self::echo_masked),
        ("expired-401", Self::expired),
        ("alg-none-401", Self::alg_none),
        ("wrong-key-401", Self::wrong_key),
        ("other-audience-401", Self::other_audience),
    ];

    fn start(peers: &Peers, server_bin: &Path, dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let port = process::free_port()?;
        let resource = format!("http://127.0.0.1:{port}/mcp");
        let secret = canary::JWT_SECRET.to_owned();
        store_secret(server_bin, &dir.join("data"), JWT_SECRET_NAME, &secret)?;
        let config = format!(
            "{}[auth]\nmethods = [\"jwt\"]\nresource = {}\n\n[auth.jwt]\nissuer = {}\nalgorithms = [\"HS256\"]\nkeys = [{{ hmac_secret = {{ secret = {} }} }}]\n",
            base_config(dir, port),
            quoted(&resource),
            quoted(JWT_ISSUER),
            quoted(JWT_SECRET_NAME)
        );
        let server = start_server(server_bin, dir, port, &config, &[])?;
        Ok(Self { server, resource, secret, python: peers.python_mcp2(), dir: dir.to_path_buf() })
    }

    /// `tests/auth/mint_jwt.py --iss … --sub … --aud <resource> ARGS`, signed with `secret` (a repeated option in
    /// `args` overrides the default: argparse keeps the last).
    fn mint(&self, secret: &str, args: &[&str]) -> Result<String> {
        let mut cmd = python(&self.python);
        cmd.arg(util::root().join("tests/auth/mint_jwt.py"))
            .args(["--iss", JWT_ISSUER, "--sub", JWT_SUBJECT, "--aud", &self.resource])
            .args(args)
            .env(JWT_SECRET_ENV, secret);
        let log = self.dir.join("mint.log");
        let finished = process::run_logged(hermetic(&mut cmd), &log, CLIENT_TIMEOUT)?;
        if let Some(why) = finished.describe_failure(CLIENT_TIMEOUT) {
            return Err(format!("mint_jwt.py {args:?}: {why}{}", process::log_hint(&log)));
        }
        process::tail(&log, 1).pop().map(|t| t.trim().to_owned()).ok_or_else(|| "mint_jwt.py printed nothing".into())
    }

    fn refused(&self, token: &str, reason: &str) -> Result {
        expect_refusal(&self.server.log, &tools_call(&self.resource, Some(token)), 401, "invalid_token", reason)
    }

    fn python_sdk(&mut self) -> Result {
        let token = self.mint(&self.secret, &[])?;
        let mut cmd = python(&self.python);
        cmd.arg(util::root().join("tests/clients/py2_http.py"))
            .args(["--mode", "auto", "--expect-protocol", MODERN, "--header"])
            .arg(format!("Authorization: Bearer {token}"))
            .arg(&self.resource);
        run_client(&mut cmd, &self.dir.join("py-mcp2-hs256.log"))?;
        expect_logged(&self.server.log, |f| f["kind"] == "authenticated" && f["principal"] == JWT_SUBJECT)
            .map_err(|e| format!("no Authenticated event for {JWT_SUBJECT}: {e}"))
    }

    /// A client that sends the server's own secret through a tool gets it back masked: every value
    /// the secret store loaded is replaced by `[REDACTED:<name>]` in tool results.
    fn echo_masked(&mut self) -> Result {
        let token = self.mint(&self.secret, &[])?;
        let text = format!("the key is {}", self.secret);
        let reply = curl(tool_call(&self.resource, Some(&token), "echo", json!({ "text": text })))?;
        reply.expect_status(200)?;
        let body = reply.json()?.to_string();
        if body.contains(&self.secret) || !body.contains("REDACTED") {
            return Err("the echoed secret was not masked in the tool result".into());
        }
        Ok(())
    }

    /// Expired five minutes ago (the leeway is 30 s).
    fn expired(&mut self) -> Result {
        let token = self.mint(&self.secret, &["--iat-offset", "-600", "--ttl", "300"])?;
        self.refused(&token, "expired")
    }

    /// `alg: none` with an HMAC signature attached (refused for its algorithm), and the unsecured form with an empty
    /// signature (RFC 7519 §6; refused as malformed, since a compact JWS needs three non-empty parts).
    fn alg_none(&mut self) -> Result {
        let signed = self.mint(&self.secret, &["--alg", "none", "--sign-anyway"])?;
        self.refused(&signed, "alg_none")?;
        let unsecured = self.mint(&self.secret, &["--alg", "none"])?;
        if !unsecured.ends_with('.') {
            return Err(format!("mint_jwt.py --alg none gave {unsecured:?}, expected an empty signature"));
        }
        self.refused(&unsecured, "malformed_token")
    }

    fn wrong_key(&mut self) -> Result {
        let token = self.mint(&random_hex(32)?, &[])?;
        self.refused(&token, "bad_signature")
    }

    fn other_audience(&mut self) -> Result {
        let token = self.mint(&self.secret, &["--aud", OTHER_RESOURCE])?;
        self.refused(&token, "wrong_audience")
    }
}

// ------------------------------------------------------------------------------------------
// Mutual TLS

/// The server on HTTPS with required client certificates and `[auth] methods = ["mtls"]`.
#[derive(Debug)]
struct Mtls {
    server: Server,
    url: String,
    pki: PathBuf,
}

impl Fixture for Mtls {
    fn server(&mut self) -> &mut Server {
        &mut self.server
    }
}

impl Mtls {
    const CHECKS: [Check<Self>; 5] = [
        ("curl-client-cert", Self::client_cert),
        ("no-client-cert-refused", Self::no_cert),
        ("untrusted-ca-refused", Self::untrusted_ca),
        ("tls12-refused", Self::tls12),
        ("unmapped-cert-401", Self::unmapped),
    ];

    fn start(server_bin: &Path, dir: &Path, pki: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut cmd = Command::new("bash");
        cmd.arg(util::root().join("tests/auth/make-pki.sh")).arg(pki);
        let log = dir.join("make-pki.log");
        let finished = process::run_logged(&mut cmd, &log, CLIENT_TIMEOUT)?;
        if let Some(why) = finished.describe_failure(CLIENT_TIMEOUT) {
            return Err(format!("tests/auth/make-pki.sh: {why}{}", process::log_hint(&log)));
        }
        let port = process::free_port()?;
        let path = |name: &str| quoted(&pki.join(name).display().to_string());
        let config = format!(
            "{}[http.tls]\ncert_path = {}\nkey_path = {}\n\n[http.tls.client_auth]\nca_path = {}\n\n\
             [auth]\nmethods = [\"mtls\"]\n\n[auth.mtls]\n\
             identities = [{{ common_name = \"integration-client\", id = {}, roles = [\"user\"] }}]\n",
            base_config(dir, port),
            path("server.pem"),
            path("server.key"),
            path("ca.pem"),
            quoted(MTLS_PRINCIPAL)
        );
        let server = start_server(server_bin, dir, port, &config, &[])?;
        Ok(Self { server, url: format!("https://127.0.0.1:{port}/mcp"), pki: pki.to_path_buf() })
    }

    /// curl's TLS options: trust the test CA, present `cert` (a PKI file stem) if any, then `extra`.
    fn call(&self, cert: Option<&str>, extra: &[&str]) -> Result<Reply> {
        let mut args: Vec<String> = vec!["--cacert".into(), self.pki.join("ca.pem").display().to_string()];
        if let Some(stem) = cert {
            args.extend(["--cert".into(), self.pki.join(format!("{stem}.pem")).display().to_string()]);
            args.extend(["--key".into(), self.pki.join(format!("{stem}.key")).display().to_string()]);
        }
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args.extend(tools_call(&self.url, None));
        curl(args)
    }

    /// The handshake fails: no HTTP answer at all, and a `TLS handshake failed` event.
    fn handshake_fails(&self, cert: Option<&str>, extra: &[&str]) -> Result {
        let before = count_logged(&self.server.log, is_handshake_failure);
        let reply = self.call(cert, extra)?;
        if reply.exit == Some(0) || reply.status.is_some() {
            return Err(format!("expected a failed handshake, got HTTP {:?}: {}", reply.status, reply.body.trim()));
        }
        eprintln!("  curl exit {:?}: {}", reply.exit, reply.stderr.trim());
        wait_logged(&self.server.log, before, is_handshake_failure)
            .map_err(|e| format!("no TLS handshake failure event ({e}); curl: {}", reply.stderr.trim()))
    }

    fn client_cert(&mut self) -> Result {
        let reply = self.call(Some("client"), &[])?;
        reply.expect_status(200)?;
        expect_calculate_result(&reply)?;
        expect_logged(&self.server.log, |f| f["kind"] == "authenticated" && f["principal"] == MTLS_PRINCIPAL)
            .map_err(|e| format!("no Authenticated event for {MTLS_PRINCIPAL}: {e}"))
    }

    fn no_cert(&mut self) -> Result {
        self.handshake_fails(None, &[])
    }

    /// A certificate with the mapped CN, issued by a CA the server does not trust.
    fn untrusted_ca(&mut self) -> Result {
        self.handshake_fails(Some("rogue"), &[])
    }

    /// The default minimum is TLS 1.3: a TLS 1.2 client with a good certificate fails the handshake.
    fn tls12(&mut self) -> Result {
        self.handshake_fails(Some("client"), &["--tls-max", "1.2"])
    }

    /// Trusted chain, no identity rule for its CN (`unmapped = "reject"`).
    fn unmapped(&mut self) -> Result {
        let before = count_logged(&self.server.log, |f| f["reason"] == "unmapped_certificate");
        let reply = self.call(Some("unmapped"), &[])?;
        reply.expect_status(401)?;
        expect_json_rpc_error(&reply, -32050)?;
        wait_logged(&self.server.log, before, |f| f["reason"] == "unmapped_certificate")
            .map_err(|e| format!("no unmapped_certificate event: {e}"))
    }
}

fn is_handshake_failure(f: &Value) -> bool {
    f["kind"] == "transport_rejected" && f["reason"] == "TLS handshake failed"
}

// ------------------------------------------------------------------------------------------
// Servers, clients and requests

/// `[server]`, `[logging]` and `[http]` of every generated config: a private data dir, JSON logs (the checks read the
/// security events), loopback. `[http.*]` tables may follow.
fn base_config(dir: &Path, port: u16) -> String {
    format!(
        // The suite sends many deliberately bad credentials from 127.0.0.1: raise the automatic
        // block threshold so each case sees its own answer instead of the block.
        "[server]\ndata_dir = {}\n\n[logging]\nformat = \"json\"\n\n[http]\nlisten = \"127.0.0.1:{port}\"\n\n[monitoring.blocking]\nblock_after = 1000\n\n",
        quoted(&dir.join("data").display().to_string())
    )
}

/// Write `config` to `dir/server.toml` and start `mcp-server serve --config` on it with `env`.
fn start_server(server_bin: &Path, dir: &Path, port: u16, config: &str, env: &[(&str, &str)]) -> Result<Server> {
    let path = dir.join("server.toml");
    fs::write(&path, config).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let mut cmd = Command::new(server_bin);
    cmd.arg("serve").arg("--config").arg(&path);
    hermetic(&mut cmd).envs(env.iter().copied());
    Server::start(&mut cmd, port, &dir.join("server.log")).map_err(|e| format!("mcp-server did not start: {e}"))
}

/// `mcp-server secrets set NAME` (value on stdin) in the local store of `data_dir`.
fn store_secret(server_bin: &Path, data_dir: &Path, name: &str, value: &str) -> Result {
    let mut cmd = Command::new(server_bin);
    cmd.args(["secrets", "set", name])
        .env("MCP_SERVER__DATA_DIR", data_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = hermetic(&mut cmd).spawn().map_err(|e| format!("cannot run mcp-server secrets set: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(value.as_bytes()).map_err(|e| format!("cannot write the secret to mcp-server: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("mcp-server secrets set: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("mcp-server secrets set {name} failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Remove proxy settings and `MCP_SECTION__KEY` config overrides inherited from the caller's environment.
fn hermetic(cmd: &mut Command) -> &mut Command {
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("MCP_") && k.contains("__")) {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn python(interpreter: &Path) -> Command {
    let mut c = Command::new(interpreter);
    c.env("PYTHONDONTWRITEBYTECODE", "1");
    c
}

/// Run an SDK client script to completion under [`CLIENT_TIMEOUT`].
fn run_client(cmd: &mut Command, log: &Path) -> Result {
    let finished = process::run_logged(hermetic(cmd), log, CLIENT_TIMEOUT)?;
    eprintln!("  {}: {:.1} s", log.file_name().unwrap_or_default().to_string_lossy(), finished.elapsed.as_secs_f64());
    match finished.describe_failure(CLIENT_TIMEOUT) {
        None => Ok(()),
        Some(why) => Err(format!("{why}: {} (log: {})", failure_line(log), log.display())),
    }
}

/// The script's own `FAIL:` / first `ERROR:` line, else its last line.
fn failure_line(log: &Path) -> String {
    let lines = process::tail(log, 200);
    lines
        .iter()
        .find(|l| l.starts_with("FAIL:"))
        .or_else(|| lines.iter().find(|l| l.starts_with("ERROR:")))
        .or(lines.last())
        .map_or_else(|| "no output".into(), |l| l.trim().to_string())
}

/// A TOML basic string (JSON string escapes are valid TOML escapes).
fn quoted(s: &str) -> String {
    Value::from(s).to_string()
}

/// `n` random bytes from the OS, hex-encoded.
fn random_hex(n: usize) -> Result<String> {
    let mut bytes = vec![0u8; n];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// curl arguments for a stateless (2026-07-28) `tools/call calculate {a: 2, b: 3, op: add}` to `url`, with a bearer
/// token if given (the README's request).
fn tools_call(url: &str, bearer: Option<&str>) -> Vec<String> {
    tool_call(url, bearer, "calculate", json!({"a": 2, "b": 3, "op": "add"}))
}

/// curl arguments for a stateless-era `tools/call` of `name` with `arguments`.
fn tool_call(url: &str, bearer: Option<&str>, name: &str, arguments: Value) -> Vec<String> {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": name, "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    });
    let mut headers = vec![
        "content-type: application/json".to_string(),
        "accept: application/json, text/event-stream".into(),
        format!("mcp-protocol-version: {MODERN}"),
        "mcp-method: tools/call".into(),
        format!("mcp-name: {name}"),
    ];
    if let Some(token) = bearer {
        headers.push(format!("authorization: Bearer {token}"));
    }
    let mut args: Vec<String> = headers.into_iter().flat_map(|h| ["-H".to_string(), h]).collect();
    args.extend(["--data-raw".into(), body.to_string(), url.into()]);
    args
}

/// What curl got: its exit code, and the final response if there was one.
#[derive(Debug)]
struct Reply {
    exit: Option<i32>,
    status: Option<u16>,
    headers: Vec<(String, String)>,
    body: String,
    stderr: String,
}

impl Reply {
    /// The first value of a header (name in lower case).
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn expect_status(&self, status: u16) -> Result {
        match self.status {
            Some(s) if s == status => Ok(()),
            Some(s) => Err(format!("HTTP {s}, expected {status}: {}", self.body.trim())),
            None => Err(format!("no HTTP response (curl exit {:?}: {})", self.exit, self.stderr.trim())),
        }
    }

    /// The JSON-RPC message of the body: plain JSON, or the first `data:` line of an SSE stream.
    fn json(&self) -> Result<Value> {
        let text = self.body.trim();
        let json = if text.starts_with('{') {
            text
        } else {
            text.lines().find_map(|l| l.strip_prefix("data:")).map(str::trim).ok_or("neither JSON nor SSE data")?
        };
        serde_json::from_str(json).map_err(|e| format!("body is not JSON ({e}): {text}"))
    }
}

/// Run curl (no proxy, bounded by `--max-time`) with `args` and parse what it printed.
fn curl<I: IntoIterator<Item = S>, S: Into<OsString>>(args: I) -> Result<Reply> {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-i", "--noproxy", "*", "--max-time", CURL_MAX_TIME]);
    cmd.args(args.into_iter().map(Into::into));
    let out = hermetic(&mut cmd).output().map_err(|e| format!("cannot run curl: {e}"))?;
    // Every response the checks see is kept for the canary search.
    let responses = integration_dir().join("auth").join("curl-responses.log");
    if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(&responses) {
        let _ = f.write_all(&out.stdout).and_then(|()| f.write_all(b"\n"));
    }
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut reply = Reply { exit: out.status.code(), status: None, headers: Vec::new(), body: String::new(), stderr };
    // `-i` prints each response's head, a blank line, then the final body; skip interim (1xx) heads.
    let mut rest = stdout.as_str();
    while let Some((head, tail)) = rest.split_once("\r\n\r\n") {
        let mut lines = head.lines();
        let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse::<u16>().ok());
        let Some(status) = status else { break };
        reply.status = Some(status);
        reply.headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        rest = tail;
        if status >= 200 {
            break;
        }
    }
    reply.body = rest.to_owned();
    Ok(reply)
}

/// `calculate` answered 5 (structuredContent.result, else the text block).
fn expect_calculate_result(reply: &Reply) -> Result {
    let msg = reply.json()?;
    let result = &msg["result"];
    let value = result["structuredContent"]["result"]
        .as_f64()
        .or_else(|| result["content"][0]["text"].as_str().and_then(|t| t.trim().parse().ok()));
    if result["isError"] == true || value != Some(5.0) {
        return Err(format!("calculate 2 + 3 answered {msg}, expected 5"));
    }
    Ok(())
}

fn expect_json_rpc_error(reply: &Reply, code: i64) -> Result {
    let msg = reply.json()?;
    if msg["error"]["code"] == code { Ok(()) } else { Err(format!("expected JSON-RPC error {code}, got {msg}")) }
}

/// curl `args`, expecting `status` with a Bearer `error="<error>"` challenge, and a new `authenticate_fail` event
/// with `reason` in the server's log.
fn expect_refusal(log: &Path, args: &[String], status: u16, error: &str, reason: &str) -> Result {
    let matches = |f: &Value| f["kind"] == "authenticate_fail" && f["reason"] == reason;
    let before = count_logged(log, matches);
    let reply = curl(args)?;
    reply.expect_status(status)?;
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    if !challenge.starts_with("Bearer ") || !challenge.contains(&format!("error=\"{error}\"")) {
        return Err(format!("WWW-Authenticate {challenge:?}, expected a Bearer challenge with error=\"{error}\""));
    }
    expect_json_rpc_error(&reply, -32050)?;
    wait_logged(log, before, matches).map_err(|e| {
        let got =
            last_logged(log, |f| f["kind"] == "authenticate_fail").map_or("none".into(), |f| f["reason"].to_string());
        format!("refused, but not for {reason} ({e}; last refusal reason: {got})")
    })
}

/// The `fields` of every JSON log line of the server.
fn logged(log: &Path) -> Vec<Value> {
    let text = fs::read_to_string(log).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).map(|mut v| v["fields"].take()).collect()
}

fn count_logged(log: &Path, pred: impl Fn(&Value) -> bool) -> usize {
    logged(log).iter().filter(|f| pred(f)).count()
}

fn last_logged(log: &Path, pred: impl Fn(&Value) -> bool) -> Option<Value> {
    logged(log).into_iter().rev().find(|f| pred(f))
}

/// Wait (up to [`LOG_WAIT`]) until more than `before` log events match `pred`.
fn wait_logged(log: &Path, before: usize, pred: impl Fn(&Value) -> bool) -> Result {
    let deadline = Instant::now() + LOG_WAIT;
    while count_logged(log, &pred) <= before {
        if Instant::now() >= deadline {
            return Err(format!("no matching event in {} within {LOG_WAIT:?}", log.display()));
        }
        sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Some log event matches `pred` (waiting up to [`LOG_WAIT`] for it).
fn expect_logged(log: &Path, pred: impl Fn(&Value) -> bool) -> Result {
    wait_logged(log, 0, pred)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_decodes_unpadded_input() {
        assert_eq!(base64url_decode("eyJhIjoxfQ").as_deref(), Some(&b"{\"a\":1}"[..]));
        assert_eq!(base64url_decode("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(base64url_decode("a+b"), None);
    }

    #[test]
    fn quoted_is_a_toml_basic_string() {
        assert_eq!(quoted(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
