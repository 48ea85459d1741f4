use super::*;

fn cfg(text: &str) -> RateLimitConfig {
    toml::from_str(text).expect("config parses")
}

fn err(text: &str) -> String {
    match Plan::compile(&cfg(text)) {
        Err(RateLimitError::Config(m)) => m,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn defaults_compile_into_stages() {
    let plan = Plan::compile(&RateLimitConfig::default()).unwrap();
    let names: Vec<&str> = plan.limits.iter().map(|l| &*l.name).collect();
    assert_eq!(names, ["ip_all", "client_all", "client_tools"]);
    assert_eq!(&*plan.ip, &[0]);
    assert_eq!(&*plan.request, &[1, 2]);
    assert!(plan.tool.is_empty() && plan.client_tool.is_empty());
    assert_eq!(plan.limits[0].params[0], Params::Bucket { interval_ns: 100_000_000, burst: 100 });
    assert_eq!(plan.max_window_requests(), 0);
}

#[test]
fn class_overrides_replace_only_the_given_numbers() {
    let plan = Plan::compile(&cfg(r#"
        [[limits]]
        name = "calc"
        scope = "tool"
        tool = "calculate"
        requests = 10
        window_ms = 1000
        [[limits]]
        name = "each_tool"
        scope = "client_tool"
        algorithm = "token_bucket"
        rate_per_sec = 4.0
        burst = 8
        [classes.premium.calc]
        requests = 100
        [classes.premium.each_tool]
        burst = 80
        [classes.batch]
    "#))
    .unwrap();
    let premium = plan.class_index(Some("premium"));
    assert_eq!(premium, 2, "classes are numbered in name order from 1");
    assert_eq!(plan.class_index(Some("batch")), 1);
    assert_eq!(plan.class_index(Some("nope")), 0);
    assert_eq!(plan.class_index(None), 0);
    assert_eq!(plan.limits[0].params[premium], Params::Window { requests: 100, window_ns: 1_000_000_000 });
    assert_eq!(plan.limits[0].params[1], plan.limits[0].params[0]);
    assert_eq!(plan.limits[1].params[premium], Params::Bucket { interval_ns: 250_000_000, burst: 80 });
    assert_eq!(&*plan.tool["calculate"], &[0]);
    assert_eq!(&*plan.client_tool, &[1]);
    assert_eq!(plan.max_window_requests(), 100);
}

#[test]
fn invalid_configurations_are_refused_with_the_reason() {
    let win = "requests = 1\nwindow_ms = 1000";
    let cases = [
        (format!("[[limits]]\nname = \"a b\"\nscope = \"client\"\n{win}"), "limit name"),
        (format!("[[limits]]\nname = \"a\"\nscope = \"client\"\n{win}\n[[limits]]\nname = \"a\"\nscope = \"ip\"\n{win}"), "used twice"),
        (format!("[[limits]]\nname = \"a\"\nscope = \"ip\"\napplies_to = \"tools\"\n{win}"), "not known before decoding"),
        (format!("[[limits]]\nname = \"a\"\nscope = \"tool\"\n{win}"), "needs `tool`"),
        (format!("[[limits]]\nname = \"a\"\nscope = \"client\"\ntool = \"x\"\n{win}"), "only for scope"),
        (format!("[[limits]]\nname = \"a\"\nscope = \"client_tool\"\napplies_to = \"prompts\"\n{win}"), "applies to \"tools\""),
        (format!("[[limits]]\nname = \"a\"\nscope = \"client\"\nburst = 3\n{win}"), "`burst` does not belong"),
        ("[[limits]]\nname = \"a\"\nscope = \"client\"\nrequests = 3".into(), "needs `window_ms`"),
        ("[[limits]]\nname = \"a\"\nscope = \"client\"\nrequests = 0\nwindow_ms = 5".into(), "requests must be"),
        ("[[limits]]\nname = \"a\"\nscope = \"client\"\nrequests = 1\nwindow_ms = 0".into(), "window_ms must be"),
        ("[[limits]]\nname = \"a\"\nscope = \"client\"\nalgorithm = \"token_bucket\"\nrate_per_sec = 0.0\nburst = 1".into(), "rate_per_sec must be"),
        ("[[limits]]\nname = \"a\"\nscope = \"client\"\nalgorithm = \"token_bucket\"\nrate_per_sec = 1.0\nburst = 0".into(), "burst must be"),
        ("[[limits]]\nname = \"a\"\nscope = \"client\"\nalgorithm = \"token_bucket\"\nrate_per_sec = 0.000001\nburst = 1000".into(), "at most one year"),
        ("[[limits]]\nname = \"a\"\nscope = \"client\"\nalgorithm = \"token_bucket\"\nburst = 1".into(), "needs `rate_per_sec`"),
        (format!("[[limits]]\nname = \"a\"\nscope = \"client\"\n{win}\n[classes.gold.b]\nrequests = 5"), "no limit of that name"),
        (format!("[[limits]]\nname = \"a\"\nscope = \"client\"\n{win}\n[classes.gold.a]\nburst = 5"), "`burst` does not belong"),
        (format!("[[limits]]\nname = \"a\"\nscope = \"client\"\n{win}\n[classes.\"g g\".a]\nrequests = 5"), "rate class"),
    ];
    for (text, wanted) in cases {
        let msg = err(&text);
        assert!(msg.contains(wanted), "{text}\n=> {msg}\n(wanted {wanted:?})");
    }
}

#[test]
fn unknown_fields_are_refused_by_the_parser() {
    assert!(toml::from_str::<RateLimitConfig>("enable = true").is_err());
    assert!(toml::from_str::<RateLimitConfig>("[[limits]]\nname = \"a\"\nscope = \"client\"\nrequest = 1").is_err());
    assert!(toml::from_str::<RateLimitConfig>("[classes.gold.a]\nrequest = 1").is_err());
    assert!(toml::from_str::<RateLimitConfig>("backend = \"memcached\"").is_err());
}

#[test]
fn an_absent_limits_key_means_defaults_and_an_empty_list_means_none() {
    let c = cfg("max_keys = 10");
    assert_eq!(c.limits, RateLimitConfig::default_limits());
    assert!(cfg("limits = []").limits.is_empty());
}
