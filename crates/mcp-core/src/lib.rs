//! Shared vocabulary and backend traits of mcp-secure.
//!
//! Every concern crate (authentication, authorization, secrets, audit, rate limiting) depends on
//! this crate only, and `mcp-server` composes them through these traits. It does no IO and pulls
//! in no runtime.
//!
//! ```
//! use mcp_core::{Action, Principal, Permission};
//! let p = Principal::anonymous();
//! assert!(p.is_anonymous());
//! let perm: Permission = "tools:execute:calculate".parse().unwrap();
//! assert_eq!(Action::call_tool("calculate").required_permission(), perm);
//! ```

mod action;
mod audit;
mod canonical;
mod clock;
mod error;
mod event;
mod principal;
pub mod traits;

pub use action::{Action, Decision, Denial, Permit};
pub use audit::{AuditOutcome, AuditRecord};
pub use canonical::canonical_json;
pub use clock::{Clock, SystemClock};
pub use error::{ErrorKind, InvalidPermission};
pub use event::{SecurityEvent, SecurityEventKind};
pub use principal::{AuthMethod, Permission, Principal};
pub use traits::BoxFuture;
