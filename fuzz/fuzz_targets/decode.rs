//! The bounded JSON-RPC decoder must never panic, and must respect its limits on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_protocol::{Limits, Message, decode};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_size: 64 * 1024, max_depth: 16 };
    match decode(data, &limits) {
        Ok(Message::Request(r)) => {
            assert!(data.len() <= limits.max_size);
            let _ = r.params.map(|p| p.is_object());
        }
        Ok(_) => assert!(data.len() <= limits.max_size),
        Err(e) => {
            // Every error maps to a JSON-RPC code and a static message.
            assert!(matches!(e.code(), -32700 | -32600));
            assert!(!e.message().is_empty());
        }
    }
});
