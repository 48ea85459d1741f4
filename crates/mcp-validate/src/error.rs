//! The one error type of this crate.

use std::sync::Arc;

use mcp_core::{ErrorKind, SecurityEventKind};

use crate::argv::ArgvError;
use crate::content::ContentViolation;
use crate::path::PathError;
use crate::prompt::{PromptViolation, TemplateError};
use crate::schema::Violations;

/// Everything this crate refuses. Messages name the place (a JSON pointer, a config key, a
/// pattern id) and never repeat more than a bounded prefix of caller-supplied text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValidateError {
    /// A `$ref` (or `$dynamicRef`) that does not start with `#`.
    #[error(
        "schema at '{pointer}': reference {reference:?} is not local; only '#...' references are allowed (nothing is ever fetched)"
    )]
    RemoteRef {
        /// JSON pointer of the reference keyword in the schema.
        pointer: String,
        /// The reference, cut to 120 bytes.
        reference: String,
    },
    /// A `$schema` other than draft 2020-12.
    #[error(
        "schema at '{pointer}': unsupported $schema {dialect:?}; use https://json-schema.org/draft/2020-12/schema or omit $schema"
    )]
    UnsupportedDialect {
        /// JSON pointer of the `$schema` keyword.
        pointer: String,
        /// The dialect URI given, cut to 120 bytes.
        dialect: String,
    },
    /// Subschemas (or the raw JSON) nest deeper than the limit.
    #[error("schema at '{pointer}': nested deeper than the limit of {limit} (schema max_depth)")]
    SchemaTooDeep {
        /// JSON pointer of the first place past the limit.
        pointer: String,
        /// The limit that was passed.
        limit: usize,
    },
    /// More subschemas than the limit.
    #[error("schema at '{pointer}': more than {limit} subschemas (schema max_subschemas)")]
    TooManySubschemas {
        /// JSON pointer of the first subschema past the limit.
        pointer: String,
        /// The limit.
        limit: usize,
    },
    /// The compiler refused the schema (not a valid 2020-12 schema, unresolvable local
    /// reference, bad regex, ...).
    #[error("schema at '{pointer}': {message}")]
    InvalidSchema {
        /// JSON pointer into the schema.
        pointer: String,
        /// The compiler's explanation, cut to 200 bytes.
        message: String,
    },
    /// Arguments do not match their schema.
    #[error(transparent)]
    Arguments(#[from] Violations),
    /// Content broke a size, MIME type or encoding rule.
    #[error(transparent)]
    Content(#[from] ContentViolation),
    /// The prompt guard refused a text.
    #[error(transparent)]
    Prompt(#[from] PromptViolation),
    /// A template could not be parsed or rendered.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A path was refused by [`ResourceRoots`](crate::ResourceRoots).
    #[error(transparent)]
    Path(#[from] PathError),
    /// An argument vector was refused by [`Argv`](crate::Argv).
    #[error(transparent)]
    Argv(#[from] ArgvError),
    /// A configuration section is invalid.
    #[error("invalid [{section}] configuration: {message}")]
    Config {
        /// The section (`content_validation`, `prompt_security`, ...).
        section: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl ValidateError {
    /// The wire kind: a refused schema or configuration is a server-side problem
    /// ([`ErrorKind::Internal`]); everything else is a refused input
    /// ([`ErrorKind::ValidationFailed`]), except template problems, which say for themselves.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::RemoteRef { .. }
            | Self::UnsupportedDialect { .. }
            | Self::SchemaTooDeep { .. }
            | Self::TooManySubschemas { .. }
            | Self::InvalidSchema { .. }
            | Self::Config { .. } => ErrorKind::Internal,
            Self::Template(e) => e.kind(),
            Self::Arguments(_) | Self::Content(_) | Self::Prompt(_) | Self::Path(_) | Self::Argv(_) => {
                ErrorKind::ValidationFailed
            }
        }
    }

    /// The security event this refusal should raise, if any: `PromptInjectionBlocked` for a
    /// matched pattern, `ValidationFail` for other refused input, none for configuration errors.
    pub fn event_kind(&self) -> Option<SecurityEventKind> {
        match self {
            Self::Prompt(p) => Some(p.event_kind()),
            Self::Arguments(_) | Self::Content(_) | Self::Path(_) | Self::Argv(_) => {
                Some(SecurityEventKind::ValidationFail)
            }
            Self::Template(e) if e.kind() == ErrorKind::ValidationFailed => Some(SecurityEventKind::ValidationFail),
            _ => None,
        }
    }

    /// The `rule` of the security event (`schema:enum`, `content:max_binary_size`,
    /// `pattern:ignore_previous`, `limit:max_prompt_size`, `path:outside_roots`, ...).
    pub fn event_rule(&self) -> Arc<str> {
        match self {
            Self::Arguments(v) => v.event_rule(),
            Self::Content(c) => c.event_rule(),
            Self::Prompt(p) => p.event_rule(),
            Self::Template(t) => Arc::from(format!("template:{}", t.rule())),
            Self::Path(p) => Arc::from(format!("path:{}", p.rule())),
            Self::Argv(a) => Arc::from(format!("argv:{}", a.rule())),
            Self::RemoteRef { .. } => Arc::from("schema:remote_ref"),
            Self::UnsupportedDialect { .. } => Arc::from("schema:dialect"),
            Self::SchemaTooDeep { .. } => Arc::from("schema:max_depth"),
            Self::TooManySubschemas { .. } => Arc::from("schema:max_subschemas"),
            Self::InvalidSchema { .. } => Arc::from("schema:invalid"),
            Self::Config { section, .. } => Arc::from(format!("config:{section}")),
        }
    }
}
