use serde_json::{Value, json};

use super::*;

fn calculate() -> CompiledSchema {
    let schema = json!({
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": ["add", "subtract", "multiply", "divide"]},
            "a": {"type": "number", "minimum": -1e9, "maximum": 1e9},
            "b": {"type": "number", "exclusiveMinimum": -1e9}
        },
        "required": ["operation", "a", "b"],
        "additionalProperties": false
    });
    CompiledSchema::compile(&schema, &SchemaLimits::default()).expect("calculate compiles")
}

fn rules(v: &Violations) -> Vec<(&str, &str)> {
    v.iter().map(|x| (x.pointer.as_str(), x.rule)).collect()
}

fn compile_err(schema: Value) -> ValidateError {
    CompiledSchema::compile(&schema, &SchemaLimits::default()).expect_err("must be refused")
}

#[test]
fn calculate_accepts_valid_arguments() {
    let s = calculate();
    assert!(s.validate(&json!({"operation": "add", "a": 1, "b": 2})).is_ok());
    assert!(s.validate(&json!({"operation": "divide", "a": 1.5, "b": -2})).is_ok());
    assert!(s.is_valid(&json!({"operation": "multiply", "a": 0, "b": 0})));
}

#[test]
fn calculate_rules_each_reported() {
    let s = calculate();
    let v = s.validate(&json!({"operation": "add", "a": 1, "b": 2, "c": 3})).unwrap_err();
    assert_eq!(rules(&v), [("", "additionalProperties")]);
    let v = s.validate(&json!({"operation": "pow", "a": 1, "b": 2})).unwrap_err();
    assert_eq!(rules(&v), [("/operation", "enum")]);
    let v = s.validate(&json!({"operation": "add", "a": 2e9, "b": 2})).unwrap_err();
    assert_eq!(rules(&v), [("/a", "maximum")]);
    let v = s.validate(&json!({"operation": "add", "a": 1, "b": -1e9})).unwrap_err();
    assert_eq!(rules(&v), [("/b", "exclusiveMinimum")]);
    let v = s.validate(&json!({"operation": "add", "a": "1", "b": 2})).unwrap_err();
    assert_eq!(rules(&v), [("/a", "type")]);
    let v = s.validate(&json!({"a": 1})).unwrap_err();
    assert_eq!(rules(&v), [("", "required"), ("", "required")]);
    let v = s.validate(&json!([1])).unwrap_err();
    assert_eq!(rules(&v), [("", "type")]);
}

#[test]
fn tool_error_text_is_useful_and_bounded() {
    let s = calculate();
    let v = s.validate(&json!({"operation": "pow", "a": 1, "b": 2})).unwrap_err();
    let text = v.to_tool_error_text();
    assert!(text.starts_with("Invalid arguments:\n- /operation: "), "{text}");
    assert!(text.ends_with(r#"- /operation: must be one of ["add","subtract","multiply","divide"] (enum)"#), "{text}");
    assert!(!text.contains("pow"), "the offending value is not echoed: {text}");

    // A long attacker-chosen property name appears only cut short.
    let long_key = "k".repeat(10_000);
    let v = s.validate(&json!({"operation": "add", "a": 1, "b": 2, long_key.clone(): 1})).unwrap_err();
    let text = v.to_tool_error_text();
    assert!(text.len() < 600, "{}", text.len());
    assert!(!text.contains(&long_key));
    assert_eq!(&*v.event_rule(), "schema:additionalProperties");
    assert!(v.to_string().contains("additionalProperties"));
}

#[test]
fn enum_and_const_messages_list_allowed_values_within_bounds() {
    let many: Vec<String> = (0..1000).map(|i| format!("value-{i}")).collect();
    let s = CompiledSchema::compile(
        &json!({"properties": {"e": {"enum": many}, "c": {"const": 7}}}),
        &SchemaLimits::default(),
    )
    .unwrap();
    let v = s.validate(&json!({"e": "nope", "c": 8})).unwrap_err();
    let messages: Vec<&str> = v.iter().map(|x| x.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.starts_with("must be one of [\"value-0\"") && m.ends_with('…')), "{messages:?}");
    assert!(messages.contains(&"must be 7"), "{messages:?}");
    assert!(messages.iter().all(|m| m.len() <= MAX_MESSAGE_LEN + '…'.len_utf8()));
}

#[test]
fn violations_are_capped() {
    let schema = json!({"type": "array", "items": {"type": "string"}});
    let s = CompiledSchema::compile(&schema, &SchemaLimits::default()).unwrap();
    let v = s.validate(&json!(vec![1; 500])).unwrap_err();
    assert_eq!(v.len(), MAX_VIOLATIONS);
    assert!(v.is_truncated() && !v.is_empty());
    assert!(v.to_tool_error_text().contains("more than 20 violations"));
    let long_pointer_key = "p".repeat(1000);
    let s = CompiledSchema::compile(&json!({"additionalProperties": {"type": "string"}}), &SchemaLimits::default())
        .unwrap();
    let v = s.validate(&json!({long_pointer_key: 1})).unwrap_err();
    assert!(v.iter().all(|x| x.pointer.len() <= 200 + '…'.len_utf8()));
}

#[test]
fn remote_and_file_refs_are_refused_before_compiling() {
    for (schema, ptr) in [
        (json!({"$ref": "http://127.0.0.1:1/x"}), "/$ref"),
        (json!({"$ref": "file:///etc/passwd"}), "/$ref"),
        (json!({"properties": {"a": {"$ref": "other.json#/x"}}}), "/properties/a/$ref"),
        (json!({"items": {"$dynamicRef": "https://example.com/s"}}), "/items/$dynamicRef"),
        (json!({"anyOf": [true, {"$ref": "//host/x"}]}), "/anyOf/1/$ref"),
        // Hidden in an unknown keyword that a local $ref points at.
        (json!({"$ref": "#/x", "x": {"$ref": "http://127.0.0.1:1/y"}}), "/x/$ref"),
        (json!({"$defs": {"a/b": {"$ref": "file:///etc/passwd"}}}), "/$defs/a~1b/$ref"),
    ] {
        match compile_err(schema.clone()) {
            ValidateError::RemoteRef { pointer, .. } => assert_eq!(pointer, ptr, "{schema}"),
            other => panic!("{schema}: {other:?}"),
        }
    }
    let msg = compile_err(json!({"$ref": "file:///etc/passwd"})).to_string();
    assert!(msg.contains("/$ref") && msg.contains("not local"), "{msg}");
}

#[test]
fn the_compiler_itself_never_fetches() {
    // Even past the walker, the compiler's retriever refuses (here via an `$id` base that
    // makes a local-looking document reference a remote resource).
    let schema =
        json!({"$id": "http://127.0.0.1:1/root.json", "$ref": "#/$defs/a", "$defs": {"a": {"type": "string"}}});
    assert!(CompiledSchema::compile(&schema, &SchemaLimits::default()).is_ok());
    let r = jsonschema::draft202012::options()
        .with_retriever(RefuseRetrieval)
        .build(&json!({"$ref": "http://127.0.0.1:1/x"}));
    let msg = r.expect_err("refused").to_string();
    assert!(msg.contains("retrieval is disabled"), "{msg}");
}

#[test]
fn local_refs_work() {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema#",
        "$defs": {"pos": {"type": "integer", "minimum": 1}},
        "type": "object",
        "properties": {"n": {"$ref": "#/$defs/pos"}, "tree": {"$ref": "#"}}
    });
    let s = CompiledSchema::compile(&schema, &SchemaLimits::default()).unwrap();
    assert!(s.is_valid(&json!({"n": 2, "tree": {"n": 3}})));
    let v = s.validate(&json!({"tree": {"n": 0}})).unwrap_err();
    assert_eq!(rules(&v), [("/tree/n", "minimum")]);
    match compile_err(json!({"$ref": "#/$defs/missing"})) {
        ValidateError::InvalidSchema { .. } => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn dialects() {
    for ok in ["https://json-schema.org/draft/2020-12/schema", "https://json-schema.org/draft/2020-12/schema#"] {
        assert!(CompiledSchema::compile(&json!({"$schema": ok}), &SchemaLimits::default()).is_ok());
    }
    for bad in ["http://json-schema.org/draft-07/schema#", "https://evil.example/meta", ""] {
        match compile_err(json!({"properties": {"x": {"$schema": bad}}})) {
            ValidateError::UnsupportedDialect { pointer, .. } => assert_eq!(pointer, "/properties/x/$schema"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert!(matches!(compile_err(json!({"$schema": 7})), ValidateError::InvalidSchema { .. }));
}

fn nested(levels: usize) -> Value {
    let mut s = json!({"type": "string"});
    for _ in 0..levels {
        s = json!({"type": "object", "properties": {"x": s}});
    }
    s
}

#[test]
fn depth_limit() {
    let limits = SchemaLimits { max_depth: 5, max_subschemas: 1000 };
    assert!(CompiledSchema::compile(&nested(5), &limits).is_ok());
    match CompiledSchema::compile(&nested(6), &limits).unwrap_err() {
        ValidateError::SchemaTooDeep { pointer, limit: 5 } => assert_eq!(pointer, "/properties/x".repeat(6)),
        other => panic!("{other:?}"),
    }
    // Raw JSON nesting inside data keywords is bounded too (4 x max_depth).
    let mut deep = json!(1);
    for _ in 0..30 {
        deep = json!([deep]);
    }
    assert!(matches!(
        CompiledSchema::compile(&json!({"enum": [deep]}), &limits).unwrap_err(),
        ValidateError::SchemaTooDeep { limit: 20, .. }
    ));
    let msg = CompiledSchema::compile(&nested(6), &limits).unwrap_err().to_string();
    assert!(msg.contains("max_depth") && msg.contains("/properties/x"), "{msg}");
}

#[test]
fn subschema_count_limit() {
    let limits = SchemaLimits { max_depth: 32, max_subschemas: 10 };
    let props: serde_json::Map<String, Value> = (0..9).map(|i| (format!("p{i}"), json!({"type": "integer"}))).collect();
    assert!(CompiledSchema::compile(&json!({"properties": props}), &limits).is_ok());
    let props: serde_json::Map<String, Value> = (0..10).map(|i| (format!("p{i}"), json!(true))).collect();
    match CompiledSchema::compile(&json!({"properties": props}), &limits).unwrap_err() {
        ValidateError::TooManySubschemas { limit: 10, pointer } => assert!(pointer.starts_with("/properties/p")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_schemas_name_the_place() {
    match compile_err(json!({"properties": {"a": {"type": "strng"}}})) {
        ValidateError::InvalidSchema { pointer, message } => {
            assert_eq!(pointer, "/properties/a/type");
            assert!(!message.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(compile_err(json!({"pattern": "("})), ValidateError::InvalidSchema { .. }));
    assert!(matches!(compile_err(json!("string")), ValidateError::InvalidSchema { .. }));
    assert_eq!(compile_err(json!(3)).kind(), mcp_core::ErrorKind::Internal);
}

#[test]
fn formats_are_asserted_and_patterns_bounded() {
    let s = CompiledSchema::compile(&json!({"type": "string", "format": "date"}), &SchemaLimits::default()).unwrap();
    assert!(s.is_valid(&json!("2024-02-29")));
    assert_eq!(rules(&s.validate(&json!("yesterday")).unwrap_err()), [("", "format")]);
    // Catastrophic backtracking is cut off by the backtrack limit instead of hanging.
    let s = CompiledSchema::compile(&json!({"pattern": "^(a+)+\\1$"}), &SchemaLimits::default()).unwrap();
    let started = std::time::Instant::now();
    let _ = s.validate(&json!(format!("{}b", "a".repeat(64))));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
