//! Subcommands of the `mcp-server` binary beyond `serve`: audit verification, GDPR operations,
//! the block list and authorization explanations.

pub mod audit;
pub mod authz;
pub mod block;
mod progress;

pub use progress::Line as Progress;
