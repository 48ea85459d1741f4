//! The one integration test binary of mcp-audit: a real log written by the writer thread, then
//! verified, tampered with, rotated, erased, exported, purged; failure policies with injected
//! write errors; and a writer killed with SIGKILL in a child process.

#![allow(clippy::unwrap_used)]

#[path = "audit/common.rs"]
mod common;

#[path = "audit/chain.rs"]
mod chain;
#[path = "audit/crash.rs"]
mod crash;
#[path = "audit/failure.rs"]
mod failure;
#[path = "audit/gdpr.rs"]
mod gdpr;
#[path = "audit/key_rotation.rs"]
mod key_rotation;
#[path = "audit/sink.rs"]
mod sink;
