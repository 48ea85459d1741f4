//! Template errors.

use std::sync::Arc;

use mcp_core::ErrorKind;

/// Why a template was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// `{{` without a closing `}}`.
    #[error("template: '{{{{' at byte {offset} has no closing '}}}}' (write '\\{{{{' for a literal)")]
    Unterminated {
        /// Byte offset of the opening braces in the text being parsed.
        offset: usize,
    },
    /// A variable name that does not match `allowed_var_pattern`.
    #[error("template: variable name {0:?} does not match allowed_var_pattern")]
    InvalidVariableName(String),
    /// An include name that is not 1..=128 of `[A-Za-z0-9_.:/-]` in `/`-separated segments,
    /// none empty, `.` or `..`.
    #[error("template: include name {0:?} must be 1..=128 of [A-Za-z0-9_.:/-] without empty, '.' or '..' segments")]
    InvalidIncludeName(String),
    /// The lookup knows no template of that name.
    #[error("template: included template {0:?} not found")]
    IncludeNotFound(String),
    /// A template includes itself, directly or through others.
    #[error("template: include cycle through {0:?}")]
    IncludeCycle(String),
    /// Includes nest deeper than `max_template_depth`.
    #[error("template: includes nest deeper than max_template_depth of {limit}")]
    IncludeTooDeep {
        /// `max_template_depth`.
        limit: usize,
    },
    /// An include was found but the template was parsed without a lookup.
    #[error("template: includes need Template::parse_with_includes")]
    IncludesUnsupported,
    /// The expanded or rendered text is larger than `max_prompt_size`.
    #[error("template: text of at least {actual} bytes exceeds max_prompt_size of {limit}")]
    TooLarge {
        /// `max_prompt_size`.
        limit: usize,
        /// Bytes reached when the limit was passed.
        actual: usize,
    },
    /// A variable has no (string) value.
    #[error("template: variable {0:?} is missing or not a string")]
    MissingVariable(Arc<str>),
}

impl TemplateError {
    /// Parse problems are the template author's ([`ErrorKind::Internal`]); a missing variable or
    /// an oversized rendering is the caller's ([`ErrorKind::ValidationFailed`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::MissingVariable(_) | Self::TooLarge { .. } => ErrorKind::ValidationFailed,
            _ => ErrorKind::Internal,
        }
    }

    /// A stable short name for events.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::Unterminated { .. } => "unterminated",
            Self::InvalidVariableName(_) => "variable_name",
            Self::InvalidIncludeName(_) => "include_name",
            Self::IncludeNotFound(_) => "include_not_found",
            Self::IncludeCycle(_) => "include_cycle",
            Self::IncludeTooDeep { .. } => "max_template_depth",
            Self::IncludesUnsupported => "includes_unsupported",
            Self::TooLarge { .. } => "max_prompt_size",
            Self::MissingVariable(_) => "missing_variable",
        }
    }
}
