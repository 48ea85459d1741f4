//! Compiling any schema must never panic or fetch anything, must respect its limits, and must
//! give bounded error messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_validate::{CompiledSchema, SchemaLimits};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    if data.len() > 16 * 1024 {
        return;
    }
    let Ok(schema) = serde_json::from_slice::<Value>(data) else { return };
    let limits = SchemaLimits { max_depth: 8, max_subschemas: 64 };
    match CompiledSchema::compile(&schema, &limits) {
        Ok(compiled) => {
            // Any compiled schema can validate anything without panicking, and its two entry
            // points agree.
            for instance in [json!(null), json!({"a": [1, "x", {"b": true}]}), schema.clone()] {
                assert_eq!(compiled.is_valid(&instance), compiled.validate(&instance).is_ok());
                if let Err(v) = compiled.validate(&instance) {
                    assert!(!v.is_empty() && v.len() <= mcp_validate::schema::MAX_VIOLATIONS);
                    assert!(v.to_tool_error_text().len() <= 20 * 512 + 128);
                }
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty());
            // Pointers, references and compiler messages are all cut short.
            assert!(msg.len() <= 1024, "{}", msg.len());
        }
    }
});
