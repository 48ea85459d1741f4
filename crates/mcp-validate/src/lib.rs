//! Input and output validation for mcp-secure.
//!
//! - [`CompiledSchema`]: JSON Schema 2020-12 for tool arguments and structured outputs, with
//!   only local `$ref`s (nothing is ever fetched), the 2020-12 dialect only, and bounded size
//!   ([`SchemaLimits`]); failures are bounded [`Violations`] with a text a model can act on.
//! - [`content::ContentRules`] (`[content_validation]`): text and decoded-binary sizes, MIME
//!   allowlist, base64 validity for tool results, resource contents, prompt messages, and
//!   content blocks in requests.
//! - [`prompt::PromptGuard`] (`[prompt_security]`): blocked patterns matched after Unicode
//!   normalization, size limits, argument scanning; [`prompt::Template`] for `{{var}}`
//!   templates with bounded includes.
//! - [`ResourceRoots`] and [`Argv`]: helpers for tool authors against path traversal and
//!   shell or option injection.
//!
//! Errors carry a place (JSON pointer, pattern id, rule name) and never unbounded
//! caller-supplied text. The server turns them into `ValidationFail` /
//! `PromptInjectionBlocked` events with [`ValidateError::event_kind`] and
//! [`ValidateError::event_rule`].
//!
//! ```
//! use mcp_validate::{CompiledSchema, SchemaLimits};
//! use serde_json::json;
//!
//! let schema = json!({
//!     "type": "object",
//!     "properties": {
//!         "operation": {"type": "string", "enum": ["add", "subtract", "multiply", "divide"]},
//!         "a": {"type": "number"},
//!         "b": {"type": "number"}
//!     },
//!     "required": ["operation", "a", "b"],
//!     "additionalProperties": false
//! });
//! let calculate = CompiledSchema::compile(&schema, &SchemaLimits::default()).unwrap();
//! assert!(calculate.validate(&json!({"operation": "add", "a": 1, "b": 2})).is_ok());
//! let err = calculate.validate(&json!({"operation": "pow", "a": 1, "b": 2})).unwrap_err();
//! assert_eq!(err.iter().next().map(|v| (v.pointer.as_str(), v.rule)), Some(("/operation", "enum")));
//! ```

pub mod argv;
pub mod content;
mod error;
pub mod path;
pub mod prompt;
pub mod schema;
mod text;

pub use argv::{Argv, ArgvError};
pub use content::{ContentConfig, ContentRules, ContentViolation};
pub use error::ValidateError;
pub use path::{PathError, ResourceRoots};
pub use prompt::{Blocked, PromptGuard, PromptSecurityConfig, PromptViolation, Template, TemplateError};
pub use schema::{CompiledSchema, SchemaLimits, Violation, Violations};
