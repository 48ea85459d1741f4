use super::*;

fn plan(toml_src: &str) -> ClaimPlan {
    let m: ClaimMapping = toml::from_str(toml_src).expect("mapping parses");
    ClaimPlan::new(&m, "auth.jwt").expect("mapping is valid")
}

fn map(json: &str, plan: &ClaimPlan) -> Result<Principal, FailureReason> {
    let c = Claims::parse(json.as_bytes())?;
    principal(&c, plan, AuthMethod::Jwt, false)
}

fn names(set: &BTreeSet<Arc<str>>) -> Vec<&str> {
    set.iter().map(|s| &**s).collect()
}

#[test]
fn default_mapping_reads_roles_permissions_scope_and_scp() {
    let p = map(
        r#"{"sub":"alice","roles":["admin","ops"],"permissions":["tools:execute:x","bad perm"],"scope":"a b","scp":["c"]}"#,
        &plan(""),
    )
    .unwrap();
    assert_eq!(&*p.id, "alice");
    assert_eq!(names(&p.roles), ["admin", "ops"]);
    assert_eq!(p.permissions.iter().map(Permission::as_str).collect::<Vec<_>>(), ["tools:execute:x"]);
    assert_eq!(names(&p.scopes), ["a", "b", "c"]);
    assert_eq!(p.rate_class, None);

    let c = Claims::parse(br#"{"client_id":"svc"}"#).unwrap();
    assert_eq!(&*principal(&c, &plan(""), AuthMethod::OAuth, true).unwrap().id, "svc");
    assert_eq!(principal(&c, &plan(""), AuthMethod::Jwt, false).unwrap_err(), FailureReason::MissingClaim);
    assert!(map(r#"{"sub":""}"#, &plan("")).is_err());
    assert_eq!(map(r#"{"sub":7}"#, &plan("")).unwrap_err(), FailureReason::MalformedClaims);
}

#[test]
fn keycloak_realm_and_client_roles_and_groups() {
    let token = r#"{"sub":"f3a1","preferred_username":"alice",
        "realm_access":{"roles":["offline_access","mcp-user"]},
        "resource_access":{"mcp-server":{"roles":["tools-admin"]},"account":{"roles":["manage-account"]}},
        "groups":["/staff","admins"]}"#;
    let p = map(
        token,
        &plan(
            r#"roles = ["realm_access.roles", "resource_access.mcp-server.roles"]
               groups = "groups""#,
        ),
    )
    .unwrap();
    assert_eq!(names(&p.roles), ["/staff", "admins", "mcp-user", "offline_access", "tools-admin"]);
    assert!(!p.roles.contains("manage-account"), "another client's roles are not taken");
    assert!(p.scopes.is_empty());
    // A nested principal path.
    assert_eq!(&*map(token, &plan("principal = \"preferred_username\"")).unwrap().id, "alice");
    // The single-string form still means one top-level claim: no `roles` claim, no roles.
    assert!(map(token, &plan("roles = \"roles\"")).unwrap().roles.is_empty());
}

#[test]
fn azure_scp_string_and_roles_array() {
    let token = r#"{"sub":"u1","oid":"00000000-aaaa","scp":"mcp.read mcp.write","roles":["Tools.Execute"],
        "groups":["6f1c2d3e-1111-2222-3333-444455556666"]}"#;
    let p = map(token, &plan("groups = [\"groups\"]")).unwrap();
    assert_eq!(names(&p.scopes), ["mcp.read", "mcp.write"]);
    assert_eq!(names(&p.roles), ["6f1c2d3e-1111-2222-3333-444455556666", "Tools.Execute"]);
    let only_scp = map(token, &plan("scopes = \"scp\"")).unwrap();
    assert_eq!(only_scp.scopes.len(), 2);
    let none = map(token, &plan("scopes = []")).unwrap();
    assert!(none.scopes.is_empty(), "scopes = [] takes no scopes");
    assert_eq!(&*map(token, &plan("principal = \"oid\"")).unwrap().id, "00000000-aaaa");
}

#[test]
fn values_are_strings_or_arrays_and_everything_else_is_ignored() {
    let p = map(
        r#"{"sub":"a","roles":"one two  three","groups":[1,"g",null,{"x":1},["y"],"g"],"perms":{"a":1},
            "scope":42}"#,
        &plan("groups = \"groups\"\npermissions = \"perms\""),
    )
    .unwrap();
    assert_eq!(names(&p.roles), ["g", "one", "three", "two"]);
    assert!(p.permissions.is_empty());
    assert!(p.scopes.is_empty());
    // A path through a non-object, or to a missing member, is simply absent.
    let p = map(
        r#"{"sub":"a","realm_access":["roles"],"x":{"y":{}}}"#,
        &plan("roles = [\"realm_access.roles\", \"x.y.z\"]"),
    )
    .unwrap();
    assert!(p.roles.is_empty());
}

#[test]
fn grants_are_bounded_in_number_and_length() {
    let many: Vec<String> = (0..400).map(|i| format!("\"r{i:03}\"")).collect();
    let perms: Vec<String> = (0..400).map(|i| format!("\"tools:execute:t{i:03}\"")).collect();
    let long = "x".repeat(300);
    let token = format!(
        r#"{{"sub":"a","roles":[{}],"permissions":[{}],"extra":["{long}","ok","ctl\u0007"],"scope":"s \"q\" ok"}}"#,
        many.join(","),
        perms.join(",")
    );
    let p = map(&token, &plan("groups = \"extra\"")).unwrap();
    assert_eq!(p.roles.len(), MAX_GRANTS, "roles (groups included) are capped");
    assert_eq!(p.permissions.len(), MAX_GRANTS);
    let p = map(&token, &plan("roles = \"extra\"")).unwrap();
    assert_eq!(names(&p.roles), ["ok"], "over-long and control-character roles are skipped");
    assert_eq!(names(&p.scopes), ["ok", "s"], "a scope token with a quote is skipped");
}

#[test]
fn invalid_permissions_are_skipped() {
    let p = map(
        r#"{"sub":"a","permissions":"tools:execute:a  :: bad!perm","pa":{"p":["resources:read:*","",7]}}"#,
        &plan("permissions = [\"permissions\", \"pa.p\"]"),
    )
    .unwrap();
    let got: Vec<_> = p.permissions.iter().map(Permission::as_str).collect();
    assert!(got.contains(&"tools:execute:a"), "{got:?}");
    assert!(got.contains(&"resources:read:*"), "{got:?}");
    assert!(got.iter().all(|g| !g.contains('!') && !g.is_empty()), "{got:?}");
}

#[test]
fn duplicate_members_on_the_path_refuse_the_token() {
    let pl = plan("roles = \"realm_access.roles\"");
    assert_eq!(
        map(r#"{"sub":"a","realm_access":{"roles":["x"],"roles":["admin"]}}"#, &pl).unwrap_err(),
        FailureReason::MalformedClaims
    );
    let p = map(r#"{"sub":"a","realm_access":{"other":1,"other":2,"roles":["x"]}}"#, &pl).unwrap();
    assert_eq!(names(&p.roles), ["x"], "a repeated member off the path does not matter");
}

#[test]
fn escaped_dots_name_namespaced_claims() {
    let token = r#"{"sub":"a","https://example.com/roles":["editor"],"https://example":{"com/roles":["no"]}}"#;
    let p = map(token, &plan(r"roles = 'https://example\.com/roles'")).unwrap();
    assert_eq!(names(&p.roles), ["editor"]);
    let p = map(token, &plan("roles = 'https://example.com/roles'")).unwrap();
    assert_eq!(names(&p.roles), ["no"], "an unescaped dot always means nesting");
}

#[test]
fn rate_class_from_a_claim_path() {
    let pl = plan("rate_class = \"mcp.tier\"");
    let p = map(r#"{"sub":"a","mcp":{"tier":"gold"}}"#, &pl).unwrap();
    assert_eq!(p.rate_class.as_deref(), Some("gold"));
    for bad in [r#""gold tier""#, "7", r#"["gold"]"#, r#""""#] {
        let p = map(&format!(r#"{{"sub":"a","mcp":{{"tier":{bad}}}}}"#), &pl).unwrap();
        assert_eq!(p.rate_class, None, "{bad}");
    }
    assert_eq!(map(r#"{"sub":"a","tier":"gold"}"#, &plan("")).unwrap().rate_class, None, "off by default");
}

#[test]
fn bad_paths_are_configuration_errors() {
    for bad in ["roles = \"a..b\"", "groups = [\"\"]", "principal = \"x.\"", "rate_class = 'a\\b'", "scopes = [\".\"]"]
    {
        let m: ClaimMapping = toml::from_str(bad).unwrap();
        let e = ClaimPlan::new(&m, "auth.oauth").unwrap_err().to_string();
        assert!(e.contains("auth.oauth.claims."), "{bad}: {e}");
    }
    assert!(toml::from_str::<ClaimMapping>("role = \"x\"").is_err(), "unknown keys are refused");
}
