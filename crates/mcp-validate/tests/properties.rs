//! Property tests across the public API.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use mcp_validate::content::decoded_len;
use mcp_validate::prompt::{PromptGuard, PromptSecurityConfig};
use mcp_validate::{CompiledSchema, SchemaLimits};
use proptest::prelude::*;
use serde_json::json;

const INVISIBLE: [char; 8] =
    ['\u{200B}', '\u{200D}', '\u{202E}', '\u{2066}', '\u{2069}', '\u{2060}', '\u{FEFF}', '\u{00AD}'];

fn guard() -> PromptGuard {
    PromptGuard::new(&PromptSecurityConfig { max_prompt_size: 1 << 20, ..Default::default() }).expect("guard")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoded_len_agrees_with_the_real_decoder(s in "[A-Za-z0-9+/=_\\- ]{0,24}") {
        let real = STANDARD.decode(&s).or_else(|_| STANDARD_NO_PAD.decode(&s));
        match (decoded_len(&s), real) {
            (Ok(n), Ok(bytes)) => prop_assert_eq!(n, bytes.len() as u64),
            (Err(_), Err(_)) => {}
            (ours, theirs) => prop_assert!(false, "{s:?}: ours {ours:?}, decoder {:?}", theirs.map(|b| b.len())),
        }
    }

    #[test]
    fn encoded_bytes_always_measure_exactly(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert_eq!(decoded_len(&STANDARD.encode(&bytes)), Ok(bytes.len() as u64));
        prop_assert_eq!(decoded_len(&STANDARD_NO_PAD.encode(&bytes)), Ok(bytes.len() as u64));
    }

    #[test]
    fn invisible_characters_never_change_the_verdict(
        words in proptest::collection::vec(
            prop_oneof![
                Just("system:"), Just("ignore"), Just("previous"), Just("instructions"), Just("<|im_start|>"),
                Just("[INST]"), Just("hello"), Just("\n"), Just(" "), Just("System"), Just("mode"),
            ],
            0..12,
        ),
        seed in any::<u64>(),
    ) {
        let g = guard();
        let text: String = words.concat();
        let salted: String = text
            .chars()
            .enumerate()
            .flat_map(|(i, c)| [c, INVISIBLE[(seed as usize).wrapping_add(i) % INVISIBLE.len()]])
            .collect();
        let fullwidth: String = text
            .chars()
            .map(|c| if c.is_ascii_graphic() { char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c) } else { c })
            .collect();
        let verdict = g.check(&text).map_err(|e| e.event_rule());
        prop_assert_eq!(g.check(&salted).map_err(|e| e.event_rule()), verdict.clone(), "salted {:?}", salted);
        prop_assert_eq!(g.check(&fullwidth).map_err(|e| e.event_rule()), verdict, "fullwidth {:?}", fullwidth);
    }

    #[test]
    fn validation_is_consistent_and_bounded(
        op in "[a-z]{0,12}",
        a in any::<f64>(),
        extra in proptest::option::of("[a-z]{1,300}"),
    ) {
        let schema = CompiledSchema::compile(&json!({
            "type": "object",
            "properties": {
                "operation": {"enum": ["add", "subtract", "multiply", "divide"]},
                "a": {"type": "number", "minimum": -10, "maximum": 10},
                "b": {"type": "number"}
            },
            "required": ["operation", "a", "b"],
            "additionalProperties": false
        }), &SchemaLimits::default()).expect("compiles");
        let mut args = json!({"operation": op, "a": if a.is_finite() { a } else { 0.0 }, "b": 1});
        if let Some(key) = &extra {
            args[key.as_str()] = json!(key);
        }
        let result = schema.validate(&args);
        prop_assert_eq!(result.is_ok(), schema.is_valid(&args));
        if let Err(v) = result {
            let text = v.to_tool_error_text();
            prop_assert!(text.len() < 2048);
            prop_assert!(v.iter().all(|x| x.message.len() <= 203));
        }
    }
}
