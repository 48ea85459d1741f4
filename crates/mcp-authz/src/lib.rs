//! RBAC authorization for mcp-secure: roles with inheritance, OAuth scope mapping and per-tool /
//! per-resource / per-prompt rules, compiled once into a [`Policy`] that implements
//! [`mcp_core::traits::Authorizer`].
//!
//! - **Default deny.** An action with no rule needs its default permission
//!   ([`mcp_core::Action::required_permission`]: `tools:execute:<name>`, `resources:read`,
//!   `prompts:get:<name>`, `tools:list`, `admin:logging`, ...).
//! - **Effective permissions** of a principal: its direct permissions, the permissions of its
//!   roles and every role they inherit (or of `default_role` when an authenticated caller has no
//!   role), and the permissions its OAuth scopes map to.
//! - **Rules** ([`AccessRule`], `[[authorization.tools]]`, ...): a caller is admitted by the
//!   rule's permission OR one of its roles; `public` admits any authenticated caller. Config
//!   rules override code rules. See the [`rule`] module.
//! - **`enabled = false` allows everything** to every caller, including anonymous ones.
//!
//! Cost: a decision resolves the principal's role and scope names to bitsets (one hash lookup
//! each), finds the rule (one or two lookups) and, for a rule, intersects the principal's bitsets
//! with the precomputed set of roles and scopes that grant the rule's permission; a target with
//! no rule walks a segment trie, or for the tools and prompts the server declares with
//! [`CodeRules::serves`] intersects precompiled grantor masks. Allowing allocates nothing (except
//! for tool or prompt names that are not valid permission segments); a denial about a declared or
//! ruled target, or a target-less action, shares the permission and rule id compiled into the
//! policy and allocates nothing either; only a denial about an undeclared name builds its text.
//!
//! ```
//! use mcp_authz::{AuthorizationConfig, CodeRules, Policy, PolicyAuthorizer};
//! use mcp_core::traits::Authorizer;
//! use mcp_core::{Action, AuthMethod, Principal};
//!
//! let config: AuthorizationConfig = serde_json::from_value(serde_json::json!({
//!     "scopes": { "mcp:tools": ["tools:list", "tools:execute:*"] }
//! })).unwrap();
//! let authz = PolicyAuthorizer::new(Policy::compile(&config, &CodeRules::new())?);
//!
//! let token = Principal::new("client-1", AuthMethod::OAuth);
//! let mcp_core::Decision::Deny(denial) = authz.authorize(&token, Action::call_tool("calc")) else {
//!     unreachable!()
//! };
//! assert_eq!(&*denial.scopes[0], "mcp:tools"); // 403 insufficient_scope, step up
//! # Ok::<(), mcp_authz::AuthzError>(())
//! ```

mod authorizer;
mod bits;
mod config;
mod decide;
mod defaults;
mod error;
mod explain;
mod grants;
mod index;
mod lint;
mod parse;
mod pins;
mod policy;
mod roles;
pub mod rule;
mod scope;

pub use authorizer::PolicyAuthorizer;
pub use bits::MAX_INTERNED;
pub use config::{AuthorizationConfig, Permissions, PromptRule, ResourceRule, RoleConfig, ToolRule};
pub use decide::Subject;
pub use error::AuthzError;
pub use explain::{Explanation, Grant, GrantSource, RoleSource};
pub use grants::grants_segments;
pub use lint::{LintFinding, Severity};
pub use parse::parse_call;
pub use pins::{PinChange, ToolPins, hex, tool_definition_hash};
pub use policy::Policy;
pub use rule::{AccessRule, CodeRules, Origin, TargetKind};
