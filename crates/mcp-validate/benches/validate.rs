//! Hot-path costs: validating `calculate` arguments, and the prompt guard on a 4 KiB text.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_validate::prompt::{PromptGuard, PromptSecurityConfig};
use mcp_validate::{CompiledSchema, ContentRules, SchemaLimits};
use serde_json::json;

fn calculate_schema() -> CompiledSchema {
    let schema = json!({
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": ["add", "subtract", "multiply", "divide"]},
            "a": {"type": "number"},
            "b": {"type": "number"}
        },
        "required": ["operation", "a", "b"],
        "additionalProperties": false
    });
    CompiledSchema::compile(&schema, &SchemaLimits::default()).expect("calculate schema compiles")
}

fn schema(c: &mut Criterion) {
    let s = calculate_schema();
    let valid = json!({"operation": "add", "a": 1, "b": 2});
    let invalid = json!({"operation": "pow", "a": 1, "b": 2, "c": 3});
    c.bench_function("calculate_args_valid", |b| b.iter(|| black_box(&s).validate(black_box(&valid))));
    c.bench_function("calculate_args_invalid_with_text", |b| {
        b.iter(|| black_box(&s).validate(black_box(&invalid)).map_err(|v| v.to_tool_error_text()))
    });
    let raw = json!({"type": "object", "properties": {"operation": {"enum": ["add"]}, "a": {"type": "number"}}});
    c.bench_function("schema_compile_small", |b| {
        b.iter(|| CompiledSchema::compile(black_box(&raw), &SchemaLimits::default()))
    });
}

fn prompt(c: &mut Criterion) {
    let guard = PromptGuard::new(&PromptSecurityConfig::default()).expect("default guard");
    let sentence = "The quarterly report covers revenue, costs and the outlook for next year. ";
    let ascii: String = sentence.repeat(4096 / sentence.len() + 1)[..4096].to_owned();
    let unicode_sentence = "Le café a ouvert à 8 h ; naïve « réponse » — 東京の天気は晴れ。 ";
    let mut unicode = unicode_sentence.repeat(4096 / unicode_sentence.len() + 1);
    while unicode.len() > 4096 {
        unicode.pop();
    }
    c.bench_function("prompt_check_4k_ascii", |b| b.iter(|| guard.check(black_box(&ascii))));
    c.bench_function("prompt_check_4k_unicode", |b| b.iter(|| guard.check(black_box(&unicode))));
    let args = json!({"query": &ascii[..512], "filters": {"lang": "en", "tags": ["a", "b", "c"]}});
    c.bench_function("prompt_check_arguments_512b", |b| b.iter(|| guard.check_arguments(black_box(&args))));
}

fn content(c: &mut Criterion) {
    let rules = ContentRules::default();
    let image = "AAAA".repeat(256 << 10);
    let result =
        json!({"content": [{"type": "text", "text": "42"}, {"type": "image", "mimeType": "image/png", "data": image}]});
    c.bench_function("content_tool_result_1mib_image", |b| b.iter(|| rules.check_tool_result(black_box(&result))));
}

criterion_group!(benches, schema, prompt, content);
criterion_main!(benches);
