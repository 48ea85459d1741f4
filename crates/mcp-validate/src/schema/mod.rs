//! JSON Schema 2020-12 validation of tool arguments and structured outputs.
//!
//! [`CompiledSchema::compile`] first walks the schema document (only `#...` references, only
//! the 2020-12 dialect, bounded nesting and subschema count), then compiles it with the
//! `jsonschema` crate set to draft 2020-12, a retriever that refuses every URI, format
//! assertion on, and a backtracking limit on `pattern` regexes. Compile once per tool and keep
//! the result (it is cheap to clone and `Send + Sync`).

mod violations;
mod walk;

use std::fmt;
use std::sync::Arc;

use jsonschema::{PatternOptions, Retrieve, Uri, Validator};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ValidateError;
use crate::text::{pointer, truncate};

pub use violations::{MAX_MESSAGE_LEN, MAX_VIOLATIONS, Violation, Violations};

/// Bounds on a schema document, checked before compiling (`[schema_validation]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemaLimits {
    /// Deepest nesting of subschemas (default 32). The raw JSON nesting of the whole document
    /// (including `enum`/`const`/`default` data) is bounded at four times this.
    pub max_depth: usize,
    /// Most subschemas in one document, root included (default 1000).
    pub max_subschemas: usize,
}

impl Default for SchemaLimits {
    fn default() -> Self {
        Self { max_depth: 32, max_subschemas: 1000 }
    }
}

impl SchemaLimits {
    /// The bound on raw JSON nesting: four times [`max_depth`](Self::max_depth).
    pub fn max_json_depth(&self) -> usize {
        self.max_depth.saturating_mul(4)
    }
}

/// Backtracking budget of one `pattern` match (fancy-regex steps).
const REGEX_BACKTRACK_LIMIT: usize = 100_000;
/// Compiled size budget of one `pattern` regex, bytes.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A retriever that refuses every URI: schemas are self-contained, nothing is ever fetched.
struct RefuseRetrieval;

impl Retrieve for RefuseRetrieval {
    fn retrieve(&self, _uri: &Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err("external schema retrieval is disabled: use only local '#...' references".into())
    }
}

/// A schema checked against [`SchemaLimits`] and compiled for draft 2020-12.
#[derive(Clone)]
pub struct CompiledSchema {
    validator: Arc<Validator>,
}

impl fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledSchema").finish_non_exhaustive()
    }
}

impl CompiledSchema {
    /// Checks and compiles `schema`.
    ///
    /// # Errors
    /// [`ValidateError::RemoteRef`], [`ValidateError::UnsupportedDialect`],
    /// [`ValidateError::SchemaTooDeep`], [`ValidateError::TooManySubschemas`] or
    /// [`ValidateError::InvalidSchema`], each naming the JSON pointer of the offending place.
    ///
    /// ```
    /// use mcp_validate::{CompiledSchema, SchemaLimits, ValidateError};
    /// use serde_json::json;
    ///
    /// let limits = SchemaLimits::default();
    /// let err = CompiledSchema::compile(&json!({"properties": {"a": {"$ref": "http://127.0.0.1:1/x"}}}), &limits)
    ///     .unwrap_err();
    /// assert!(matches!(err, ValidateError::RemoteRef { ref pointer, .. } if pointer == "/properties/a/$ref"));
    /// ```
    pub fn compile(schema: &Value, limits: &SchemaLimits) -> Result<Self, ValidateError> {
        walk::Walker::new(limits).check(schema)?;
        let patterns = PatternOptions::fancy_regex()
            .backtrack_limit(REGEX_BACKTRACK_LIMIT)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT);
        let validator = jsonschema::draft202012::options()
            .with_retriever(RefuseRetrieval)
            .with_pattern_options(patterns)
            .should_validate_formats(true)
            .build(schema)
            .map_err(|e| ValidateError::InvalidSchema {
                pointer: pointer(e.instance_path().as_str()),
                message: truncate(&e.to_string(), MAX_MESSAGE_LEN),
            })?;
        Ok(Self { validator: Arc::new(validator) })
    }

    /// Whether `instance` is valid, without collecting errors.
    #[inline]
    pub fn is_valid(&self, instance: &Value) -> bool {
        self.validator.is_valid(instance)
    }

    /// Validates `instance`; on failure returns the first [`MAX_VIOLATIONS`] violations.
    ///
    /// # Errors
    /// [`Violations`] when `instance` does not match the schema.
    ///
    /// ```
    /// use mcp_validate::{CompiledSchema, SchemaLimits};
    /// use serde_json::json;
    ///
    /// let schema = json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}, "required": ["n"]});
    /// let schema = CompiledSchema::compile(&schema, &SchemaLimits::default()).unwrap();
    /// assert!(schema.validate(&json!({"n": 3})).is_ok());
    /// let err = schema.validate(&json!({"n": 0})).unwrap_err();
    /// assert_eq!(err.iter().next().unwrap().rule, "minimum");
    /// assert!(err.to_tool_error_text().starts_with("Invalid arguments:\n- /n: "));
    /// ```
    #[inline]
    pub fn validate(&self, instance: &Value) -> Result<(), Violations> {
        if self.validator.is_valid(instance) {
            return Ok(());
        }
        Err(Violations::collect(self.validator.iter_errors(instance)))
    }
}

#[cfg(test)]
mod tests;
