//! Schema violations: bounded in count and length, safe to show to the caller.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use jsonschema::ValidationError;
use jsonschema::error::ValidationErrorKind;

use crate::text::{pointer, truncate};

/// Most violations kept from one validation.
pub const MAX_VIOLATIONS: usize = 20;
/// Longest message (bytes) kept per violation; longer ones are cut and end with `…`.
pub const MAX_MESSAGE_LEN: usize = 200;

/// Keywords a violation can name; anything else is reported as `schema`.
const KEYWORDS: &[&str] = &[
    "additionalItems",
    "additionalProperties",
    "allOf",
    "anyOf",
    "const",
    "contains",
    "contentEncoding",
    "contentMediaType",
    "dependentRequired",
    "dependentSchemas",
    "enum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "format",
    "items",
    "maxItems",
    "maxLength",
    "maxProperties",
    "maximum",
    "minContains",
    "maxContains",
    "minItems",
    "minLength",
    "minProperties",
    "minimum",
    "multipleOf",
    "not",
    "oneOf",
    "pattern",
    "prefixItems",
    "propertyNames",
    "required",
    "type",
    "unevaluatedItems",
    "unevaluatedProperties",
    "uniqueItems",
    "$ref",
    "false",
];

/// One way an instance fails its schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the instance (`""` is the whole instance), at most 200 bytes.
    pub pointer: String,
    /// The schema keyword that failed: `required`, `enum`, `minimum`, `additionalProperties`,
    /// `type`, ... (`schema` for anything unnamed).
    pub rule: &'static str,
    /// What is wrong, without the offending value, at most [`MAX_MESSAGE_LEN`] bytes.
    pub message: String,
}

/// The violations found by [`CompiledSchema::validate`](crate::CompiledSchema::validate): at
/// most [`MAX_VIOLATIONS`], never empty.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Violations {
    items: Vec<Violation>,
    truncated: bool,
}

impl Violations {
    pub(crate) fn collect<'a>(errors: impl Iterator<Item = ValidationError<'a>>) -> Self {
        let mut items = Vec::new();
        let mut truncated = false;
        for e in errors {
            if items.len() == MAX_VIOLATIONS {
                truncated = true;
                break;
            }
            let keyword = e.kind().keyword();
            let rule = KEYWORDS.iter().copied().find(|k| *k == keyword).unwrap_or("schema");
            let message = truncate(&message(&e), MAX_MESSAGE_LEN);
            items.push(Violation { pointer: pointer(e.instance_path().as_str()), rule, message });
        }
        if items.is_empty() {
            // `is_valid` and `iter_errors` disagreeing would be a bug in the compiler; still
            // report a failure rather than an empty list.
            items.push(Violation { pointer: String::new(), rule: "schema", message: "value is not valid".into() });
        }
        Self { items, truncated }
    }

    /// The violations, in the order the validator found them.
    pub fn iter(&self) -> impl Iterator<Item = &Violation> {
        self.items.iter()
    }

    /// How many violations are listed.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Always `false`: a `Violations` holds at least one violation.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether there were more than [`MAX_VIOLATIONS`] (the rest were not collected).
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The rule for a `ValidationFail` security event: `schema:<keyword of the first violation>`.
    pub fn event_rule(&self) -> Arc<str> {
        let first = self.items.first().map_or("schema", |v| v.rule);
        Arc::from(format!("schema:{first}"))
    }

    /// A text a model can use to correct its call, e.g.
    /// `Invalid arguments:\n- /operation: must be one of ["add","subtract"] (enum)`.
    /// Pointers and messages are bounded; the offending values are not repeated.
    pub fn to_tool_error_text(&self) -> String {
        let mut out = String::from("Invalid arguments:");
        for v in &self.items {
            let at = if v.pointer.is_empty() { "(root)" } else { v.pointer.as_str() };
            let _ = write!(out, "\n- {at}: {} ({})", v.message, v.rule);
        }
        if self.truncated {
            let _ = write!(out, "\n- (more than {MAX_VIOLATIONS} violations; fix these first)");
        }
        out
    }
}

/// The message for one error: the allowed values of `enum`/`const` in full (they come from the
/// schema, and a model needs all of them to correct itself), otherwise the validator's message
/// with the offending value masked.
fn message(e: &ValidationError<'_>) -> String {
    match e.kind() {
        ValidationErrorKind::Enum { options } => format!("must be one of {options}"),
        ValidationErrorKind::Constant { expected_value } => format!("must be {expected_value}"),
        _ => e.masked().to_string(),
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.items.len();
        let more = if self.truncated { "+" } else { "" };
        match self.items.first() {
            Some(v) => write!(
                f,
                "arguments do not match the schema: {n}{more} violation(s), first {} at '{}'",
                v.rule, v.pointer
            ),
            None => f.write_str("arguments do not match the schema"),
        }
    }
}
