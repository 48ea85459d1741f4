//! Validating arbitrary arguments against the `calculate` schema must never panic, must agree
//! between `is_valid` and `validate`, and must render a bounded error text.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mcp_validate::{CompiledSchema, SchemaLimits};
use serde_json::{Value, json};

fn calculate() -> &'static CompiledSchema {
    static SCHEMA: OnceLock<CompiledSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let schema = json!({
            "type": "object",
            "properties": {
                "operation": {"type": "string", "enum": ["add", "subtract", "multiply", "divide"]},
                "a": {"type": "number", "minimum": -1e12, "maximum": 1e12},
                "b": {"type": "number"},
                "note": {"type": "string", "maxLength": 64, "pattern": "^[a-z ]*$"}
            },
            "required": ["operation", "a", "b"],
            "additionalProperties": false
        });
        CompiledSchema::compile(&schema, &SchemaLimits::default()).expect("calculate schema compiles")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(args) = serde_json::from_slice::<Value>(data) else { return };
    let schema = calculate();
    let result = schema.validate(&args);
    assert_eq!(schema.is_valid(&args), result.is_ok());
    if let Err(v) = result {
        let text = v.to_tool_error_text();
        assert!(text.starts_with("Invalid arguments:"));
        assert!(text.len() <= 20 * 512 + 128, "{}", text.len());
        for violation in v.iter() {
            assert!(violation.pointer.len() <= 203 && violation.message.len() <= 203);
        }
    }
});
