//! Prints the tool error text for a few bad `calculate` calls.

use mcp_validate::{CompiledSchema, SchemaLimits};
use serde_json::json;

fn main() -> Result<(), mcp_validate::ValidateError> {
    let schema = CompiledSchema::compile(
        &json!({
            "type": "object",
            "properties": {
                "operation": {"type": "string", "enum": ["add", "subtract", "multiply", "divide"]},
                "a": {"type": "number"},
                "b": {"type": "number"}
            },
            "required": ["operation", "a", "b"],
            "additionalProperties": false
        }),
        &SchemaLimits::default(),
    )?;
    for args in [json!({"operation": "pow", "a": "1", "c": 3}), json!([1, 2])] {
        if let Err(v) = schema.validate(&args) {
            println!("{}\n", v.to_tool_error_text());
        }
    }
    Ok(())
}
