//! The checks made on a schema document before it is handed to the JSON Schema compiler:
//! only local `$ref`s, only the 2020-12 dialect, bounded nesting and size.

use serde_json::{Map, Value};

use super::SchemaLimits;
use crate::error::ValidateError;
use crate::text::{pointer, push_index, push_token, truncate};

/// The dialect URI accepted in `$schema` (with or without a trailing `#`).
pub(crate) const DIALECT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// Keywords whose value is one subschema.
const SINGLE: &[&str] = &[
    "additionalProperties",
    "propertyNames",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
    "additionalItems",
    "contentSchema",
];
/// Keywords whose value is an object of subschemas.
const MAP: &[&str] = &["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"];
/// Keywords whose value is an array of subschemas.
const ARRAY: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value is data or a plain annotation, never a schema.
const DATA: &[&str] = &[
    "const",
    "enum",
    "default",
    "examples",
    "title",
    "description",
    "$comment",
    "required",
    "type",
    "format",
    "pattern",
    "$id",
    "$anchor",
    "$dynamicAnchor",
    "$vocabulary",
    "dependentRequired",
    "contentMediaType",
    "contentEncoding",
];
/// Keywords that reference another schema by URI.
const REFS: &[&str] = &["$ref", "$dynamicRef", "$recursiveRef"];

/// Walks a schema document and enforces [`SchemaLimits`], local references and the dialect.
pub(crate) struct Walker<'l> {
    limits: &'l SchemaLimits,
    subschemas: usize,
}

impl<'l> Walker<'l> {
    pub(crate) fn new(limits: &'l SchemaLimits) -> Self {
        Self { limits, subschemas: 0 }
    }

    /// Checks the whole document rooted at `schema`.
    pub(crate) fn check(mut self, schema: &Value) -> Result<(), ValidateError> {
        let raw_limit = self.limits.max_json_depth();
        if let Some(ptr) = deeper_than(schema, raw_limit) {
            return Err(ValidateError::SchemaTooDeep { pointer: pointer(&ptr), limit: raw_limit });
        }
        match schema {
            Value::Object(_) | Value::Bool(_) => self.schema(schema, "", 0),
            _ => Err(ValidateError::InvalidSchema {
                pointer: String::new(),
                message: "a schema must be a JSON object or a boolean".into(),
            }),
        }
    }

    fn schema(&mut self, value: &Value, ptr: &str, depth: usize) -> Result<(), ValidateError> {
        self.subschemas += 1;
        if self.subschemas > self.limits.max_subschemas {
            return Err(ValidateError::TooManySubschemas { pointer: pointer(ptr), limit: self.limits.max_subschemas });
        }
        if depth > self.limits.max_depth {
            return Err(ValidateError::SchemaTooDeep { pointer: pointer(ptr), limit: self.limits.max_depth });
        }
        match value {
            Value::Object(map) => self.object(map, ptr, depth),
            // A boolean schema, or a non-schema value where a schema was expected: the compiler's
            // meta-schema check reports the latter with its own message.
            _ => Ok(()),
        }
    }

    fn object(&mut self, map: &Map<String, Value>, ptr: &str, depth: usize) -> Result<(), ValidateError> {
        for (key, value) in map {
            let here = push_token(ptr, key);
            let key = key.as_str();
            if REFS.contains(&key) {
                check_ref(value, &here)?;
            } else if key == "$schema" {
                check_dialect(value, &here)?;
            } else if SINGLE.contains(&key) {
                self.schema(value, &here, depth + 1)?;
            } else if MAP.contains(&key) || key == "dependencies" {
                if let Value::Object(children) = value {
                    for (name, child) in children {
                        // Draft 7 `dependencies` mixes schemas and arrays of property names.
                        if !child.is_array() {
                            self.schema(child, &push_token(&here, name), depth + 1)?;
                        }
                    }
                }
            } else if ARRAY.contains(&key) || key == "items" {
                match value {
                    Value::Array(children) => {
                        for (i, child) in children.iter().enumerate() {
                            self.schema(child, &push_index(&here, i), depth + 1)?;
                        }
                    }
                    other => self.schema(other, &here, depth + 1)?,
                }
            } else if !DATA.contains(&key) {
                self.unknown(value, &here, depth + 1)?;
            }
        }
        Ok(())
    }

    /// An unknown keyword: a local `$ref` may point into it (`{"$ref": "#/x", "x": {...}}`), so
    /// every object inside it is checked as if it were a schema.
    fn unknown(&mut self, value: &Value, ptr: &str, depth: usize) -> Result<(), ValidateError> {
        match value {
            Value::Object(_) => self.schema(value, ptr, depth),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.unknown(item, &push_index(ptr, i), depth)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn check_ref(value: &Value, ptr: &str) -> Result<(), ValidateError> {
    match value {
        Value::String(r) if r.starts_with('#') => Ok(()),
        Value::String(r) => Err(ValidateError::RemoteRef { pointer: pointer(ptr), reference: truncate(r, 120) }),
        _ => {
            Err(ValidateError::InvalidSchema { pointer: pointer(ptr), message: "a reference must be a string".into() })
        }
    }
}

fn check_dialect(value: &Value, ptr: &str) -> Result<(), ValidateError> {
    match value {
        Value::String(s) if s.strip_suffix('#').unwrap_or(s) == DIALECT_2020_12 => Ok(()),
        Value::String(s) => Err(ValidateError::UnsupportedDialect { pointer: pointer(ptr), dialect: truncate(s, 120) }),
        _ => Err(ValidateError::InvalidSchema { pointer: pointer(ptr), message: "$schema must be a string".into() }),
    }
}

/// The pointer of the first value nested deeper than `limit` containers, if any. Iterative, so a
/// hostile document cannot exhaust the stack here.
pub(crate) fn deeper_than(root: &Value, limit: usize) -> Option<String> {
    let mut stack: Vec<(&Value, usize, String)> = vec![(root, 0, String::new())];
    while let Some((value, depth, ptr)) = stack.pop() {
        let empty = match value {
            Value::Object(map) => map.is_empty(),
            Value::Array(items) => items.is_empty(),
            _ => continue,
        };
        if depth >= limit && !empty {
            return Some(ptr);
        }
        match value {
            Value::Object(map) => stack.extend(map.iter().map(|(k, v)| (v, depth + 1, push_token(&ptr, k)))),
            Value::Array(items) => {
                stack.extend(items.iter().enumerate().map(|(i, v)| (v, depth + 1, push_index(&ptr, i))))
            }
            _ => {}
        }
    }
    None
}
