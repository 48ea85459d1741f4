//! Integration tests of mcp-authz: TOML configs end to end, scenarios, and property tests.

mod model;
mod props;
mod scenarios;
mod support;
