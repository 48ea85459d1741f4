use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::content::{ContentConfig, ContentRules, ContentViolation};

fn rules(max_text: usize, max_binary: usize) -> ContentRules {
    ContentRules::new(&ContentConfig { max_text_length: max_text, max_binary_size: max_binary, ..Default::default() })
        .expect("valid config")
}

fn image(bytes: usize) -> Value {
    json!({"type": "image", "mimeType": "image/png", "data": STANDARD.encode(vec![7u8; bytes])})
}

fn rule_at(v: &ContentViolation) -> (&'static str, &str) {
    (v.rule, v.pointer.as_str())
}

#[test]
fn text_length_in_bytes() {
    let r = rules(4, 100);
    assert!(r.check_tool_result(&json!({"content": [{"type": "text", "text": "abcd"}]})).is_ok());
    // "é" is 2 bytes: 3 characters, 5 bytes.
    let v = r.check_tool_result(&json!({"content": [{"type": "text", "text": "aéé"}]})).unwrap_err();
    assert_eq!(rule_at(&v), ("max_text_length", "/content/0/text"));
    assert_eq!((v.limit, v.actual), (Some(4), Some(5)));
    assert_eq!(&*v.event_rule(), "content:max_text_length");
    assert!(v.to_string().contains("5 exceeds 4"), "{v}");
}

#[test]
fn typed_checks_match_the_json_walk() {
    let r = rules(4, 100);
    assert!(r.check_tool_text(0, "abcd").is_ok());
    let typed = r.check_tool_text(2, "aéé").unwrap_err();
    let walked = r
        .check_tool_result(&json!({"content": [
            {"type": "text", "text": ""}, {"type": "text", "text": ""}, {"type": "text", "text": "aéé"}
        ]}))
        .unwrap_err();
    assert_eq!(typed, walked);
    assert_eq!(rule_at(&typed), ("max_text_length", "/content/2/text"));
    let structured = json!({"k": "0123456789"});
    let typed = r.check_structured_content(&structured).unwrap_err();
    let walked = r.check_tool_result(&json!({"content": [], "structuredContent": structured})).unwrap_err();
    assert_eq!(typed, walked);
    assert!(rules(100, 100).check_structured_content(&structured).is_ok());
}

#[test]
fn binary_size_is_measured_decoded_at_the_boundaries() {
    for limit in [0usize, 1, 2, 3, 4, 5, 6, 1000] {
        let r = rules(100, limit);
        for n in limit.saturating_sub(3)..=limit + 3 {
            let result = json!({"content": [image(n)]});
            match r.check_tool_result(&result) {
                Ok(()) => assert!(n <= limit, "{n} > {limit} accepted"),
                Err(v) => {
                    assert!(n > limit, "{n} <= {limit} refused: {v}");
                    assert_eq!((v.rule, v.limit, v.actual), ("max_binary_size", Some(limit as u64), Some(n as u64)));
                }
            }
        }
    }
    // The default 10 MiB: exactly 10 MiB passes, one byte more does not.
    let r = ContentRules::default();
    assert!(r.check_tool_result(&json!({"content": [image(10 << 20)]})).is_ok());
    let v = r.check_tool_result(&json!({"content": [image((10 << 20) + 1)]})).unwrap_err();
    assert_eq!(v.actual, Some((10 << 20) + 1));
}

#[test]
fn invalid_base64_and_mime_types() {
    let r = rules(100, 100);
    let bad = json!({"content": [{"type": "audio", "mimeType": "audio/wav", "data": "AAA*"}]});
    let v = r.check_tool_result(&bad).unwrap_err();
    assert_eq!(rule_at(&v), ("base64", "/content/0/data"));
    let svg = json!({"content": [{"type": "image", "mimeType": "image/svg+xml", "data": "AAAA"}]});
    let v = r.check_tool_result(&svg).unwrap_err();
    assert_eq!(rule_at(&v), ("mime_type", "/content/0/mimeType"));
    assert!(v.detail.as_deref().is_some_and(|d| d.contains("image/svg+xml")));
    let missing = json!({"content": [{"type": "image", "data": "AAAA"}]});
    assert_eq!(r.check_tool_result(&missing).unwrap_err().rule, "mime_type");
    let long = json!({"content": [{"type": "image", "mimeType": format!("image/{}", "x".repeat(5000)), "data": ""}]});
    assert!(r.check_tool_result(&long).unwrap_err().to_string().len() < 400);
}

#[test]
fn embedded_resources_links_and_structured_content() {
    let r = rules(10, 3);
    let ok = json!({"content": [
        {"type": "resource", "resource": {"uri": "file:///a", "mimeType": "text/plain", "text": "short"}},
        {"type": "resource", "resource": {"uri": "file:///b", "blob": "AAAA"}},
        {"type": "resource_link", "uri": "file:///c", "name": "c", "mimeType": "application/json"}
    ], "structuredContent": {"a": 1}});
    assert!(r.check_tool_result(&ok).is_ok());
    let cases = [
        (
            json!({"type": "resource", "resource": {"uri": "u", "text": "01234567890"}}),
            "max_text_length",
            "/content/0/resource/text",
        ),
        (
            json!({"type": "resource", "resource": {"uri": "u", "blob": "AAAAAA=="}}),
            "max_binary_size",
            "/content/0/resource/blob",
        ),
        (
            json!({"type": "resource", "resource": {"uri": "u", "mimeType": "application/x-msdownload", "blob": "AA=="}}),
            "mime_type",
            "/content/0/resource/mimeType",
        ),
        (json!({"type": "resource", "resource": {"uri": "u"}}), "malformed", "/content/0/resource"),
        (
            json!({"type": "resource_link", "uri": "u", "name": "n", "mimeType": "application/octet-stream"}),
            "mime_type",
            "/content/0/mimeType",
        ),
        (json!({"type": "video", "data": ""}), "content_type", "/content/0/type"),
        (json!({"type": "text", "text": 5}), "malformed", "/content/0/text"),
    ];
    for (block, rule, ptr) in cases {
        let v = r.check_tool_result(&json!({"content": [block]})).unwrap_err();
        assert_eq!(rule_at(&v), (rule, ptr), "{v}");
    }
    let v = r.check_tool_result(&json!({"content": [], "structuredContent": {"k": "0123456789"}})).unwrap_err();
    assert_eq!(rule_at(&v), ("max_text_length", "/structuredContent"));
    assert!(v.actual.is_some_and(|a| a > 10));
}

#[test]
fn resource_contents_and_prompt_messages() {
    let r = rules(5, 3);
    assert!(
        r.check_resource_contents(&json!({"contents": [{"uri": "a", "text": "12345"}, {"uri": "b", "blob": "AAAA"}]}))
            .is_ok()
    );
    let v = r
        .check_resource_contents(&json!({"contents": [{"uri": "a", "text": "ok"}, {"uri": "b", "text": "123456"}]}))
        .unwrap_err();
    assert_eq!(rule_at(&v), ("max_text_length", "/contents/1/text"));
    let v = r.check_resource_contents(&json!({"contents": [{"uri": "b", "blob": "AA=A"}]})).unwrap_err();
    assert_eq!(rule_at(&v), ("base64", "/contents/0/blob"));

    let msgs = json!({"messages": [
        {"role": "user", "content": {"type": "text", "text": "hi"}},
        {"role": "assistant", "content": [{"type": "text", "text": "fine"}, {"type": "text", "text": "too long"}]}
    ]});
    let v = r.check_prompt_messages(&msgs).unwrap_err();
    assert_eq!(rule_at(&v), ("max_text_length", "/messages/1/content/1/text"));
    let v = r.check_prompt_messages(&json!({"messages": [{"role": "user"}]})).unwrap_err();
    assert_eq!(v.rule, "malformed");
}

#[test]
fn content_embedded_anywhere_in_a_request() {
    let r = rules(5, 3);
    let sampling = json!({"role": "assistant", "content": {"type": "text", "text": "123456"}, "model": "m"});
    assert_eq!(rule_at(&r.check_embedded_in_request(&sampling).unwrap_err()), ("max_text_length", "/content/text"));
    let args = json!({"arguments": {"attachments": [{"note": "x"}, {"type": "image", "mimeType": "image/png", "data": "AAAAAA=="}]}});
    assert_eq!(
        rule_at(&r.check_embedded_in_request(&args).unwrap_err()),
        ("max_binary_size", "/arguments/attachments/1/data")
    );
    // Objects that merely have a `type` field are not blocks.
    assert!(r.check_embedded_in_request(&json!({"type": "text", "value": "a long plain value"})).is_ok());
    let mut deep = json!({"type": "text", "text": "123456"});
    for _ in 0..70 {
        deep = json!([deep]);
    }
    assert_eq!(r.check_embedded_in_request(&deep).unwrap_err().rule, "max_depth");
}

#[test]
fn config_from_toml_and_bad_mime_entries() {
    let cfg: ContentConfig = toml::from_str("max_text_length = 10\nallowed_mime_types = [\"image/*\"]").unwrap();
    assert_eq!(cfg.max_binary_size, 10 << 20);
    let r = ContentRules::new(&cfg).unwrap();
    assert!(r.mime_allowed("image/svg+xml") && !r.mime_allowed("text/plain"));
    let bad = ContentConfig { allowed_mime_types: vec!["image".into()], ..Default::default() };
    let err = ContentRules::new(&bad).unwrap_err();
    assert!(err.to_string().contains("content_validation"));
    assert!(toml::from_str::<ContentConfig>("max_text = 1").is_err());
}
