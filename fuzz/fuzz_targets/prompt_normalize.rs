//! The prompt guard must never panic, and invisible characters must not change its verdict:
//! inserting zero-width or bidi control characters anywhere in a text gives the same result.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mcp_validate::prompt::{PromptGuard, PromptSecurityConfig, Template};

fn guard() -> &'static PromptGuard {
    static GUARD: OnceLock<PromptGuard> = OnceLock::new();
    GUARD.get_or_init(|| {
        let config = PromptSecurityConfig { max_prompt_size: 1 << 20, ..PromptSecurityConfig::default() };
        PromptGuard::new(&config).expect("default guard compiles")
    })
}

const INVISIBLE: [char; 5] = ['\u{200B}', '\u{202E}', '\u{2066}', '\u{FEFF}', '\u{00AD}'];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let guard = guard();
    let verdict = guard.check(text).is_ok();
    let _ = guard.check_arguments(&serde_json::Value::String(text.to_owned()));
    let _ = Template::parse(text, guard);

    if text.is_ascii() {
        // Salt the text with invisible characters; the verdict must not change.
        let salted: String = text
            .chars()
            .enumerate()
            .flat_map(|(i, c)| [c, INVISIBLE[i % INVISIBLE.len()]])
            .collect();
        assert_eq!(guard.check(&salted).is_ok(), verdict, "invisible characters changed the verdict");
    }
});
