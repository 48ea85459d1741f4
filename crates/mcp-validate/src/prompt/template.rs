//! `{{var}}` templates with `{{> name}}` includes, parsed once and rendered without ever
//! re-reading values as template syntax.

use std::sync::Arc;

use super::{PromptGuard, TemplateError, VarSource};
use crate::text::truncate;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Text(String),
    Var(Arc<str>),
}

/// A parsed template: literal text and variable slots, with includes already expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
    variables: Vec<Arc<str>>,
    max_size: usize,
}

type Lookup<'a> = Option<&'a dyn Fn(&str) -> Option<String>>;

struct Parser<'a> {
    guard: &'a PromptGuard,
    lookup: Lookup<'a>,
    stack: Vec<String>,
    out: Template,
    literal_len: usize,
}

impl Template {
    /// Parses `text`; `{{> name}}` includes are refused.
    ///
    /// ```
    /// use mcp_validate::prompt::{PromptGuard, PromptSecurityConfig, Template};
    /// use std::collections::HashMap;
    ///
    /// let guard = PromptGuard::new(&PromptSecurityConfig::default()).unwrap();
    /// let t = Template::parse("Review {{ file }} for {{goal}}.", &guard).unwrap();
    /// let vars = HashMap::from([("file".to_string(), "{{goal}}".to_string()), ("goal".to_string(), "bugs".to_string())]);
    /// // Values are inserted as they are, never parsed again.
    /// assert_eq!(t.render(&vars).unwrap(), "Review {{goal}} for bugs.");
    /// ```
    ///
    /// # Errors
    /// [`TemplateError`] for malformed placeholders, bad names, includes, or size.
    pub fn parse(text: &str, guard: &PromptGuard) -> Result<Self, TemplateError> {
        Parser::run(text, guard, None)
    }

    /// Parses `text`, expanding `{{> name}}` with `lookup` (depth-limited, cycles refused).
    ///
    /// ```
    /// use mcp_validate::prompt::{PromptGuard, PromptSecurityConfig, Template, TemplateError};
    ///
    /// let guard = PromptGuard::new(&PromptSecurityConfig::default()).unwrap();
    /// let lookup = |name: &str| match name {
    ///     "footer" => Some("-- {{signature}}".to_string()),
    ///     "loop" => Some("{{> loop}}".to_string()),
    ///     _ => None,
    /// };
    /// let t = Template::parse_with_includes("Hi {{name}}\n{{> footer}}", &guard, &lookup).unwrap();
    /// assert_eq!(t.variables().iter().map(|v| &**v).collect::<Vec<_>>(), ["name", "signature"]);
    /// assert_eq!(Template::parse_with_includes("{{> loop}}", &guard, &lookup), Err(TemplateError::IncludeCycle("loop".into())));
    /// ```
    ///
    /// # Errors
    /// As [`parse`](Self::parse), plus missing, cyclic or too deeply nested includes.
    pub fn parse_with_includes(
        text: &str,
        guard: &PromptGuard,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, TemplateError> {
        Parser::run(text, guard, Some(lookup))
    }

    /// The distinct variable names, in order of first use.
    pub fn variables(&self) -> &[Arc<str>] {
        &self.variables
    }

    /// Renders with `vars`; every variable must have a string value.
    ///
    /// # Errors
    /// [`TemplateError::MissingVariable`], or [`TemplateError::TooLarge`] past
    /// `max_prompt_size`.
    pub fn render<V: VarSource + ?Sized>(&self, vars: &V) -> Result<String, TemplateError> {
        let mut out = String::new();
        for segment in &self.segments {
            let piece = match segment {
                Segment::Text(t) => t.as_str(),
                Segment::Var(name) => vars.var(name).ok_or_else(|| TemplateError::MissingVariable(name.clone()))?,
            };
            if out.len() + piece.len() > self.max_size {
                return Err(TemplateError::TooLarge { limit: self.max_size, actual: out.len() + piece.len() });
            }
            out.push_str(piece);
        }
        Ok(out)
    }
}

impl<'a> Parser<'a> {
    fn run(text: &str, guard: &'a PromptGuard, lookup: Lookup<'a>) -> Result<Template, TemplateError> {
        let out = Template { segments: Vec::new(), variables: Vec::new(), max_size: guard.max_size() };
        let mut parser = Parser { guard, lookup, stack: Vec::new(), out, literal_len: 0 };
        parser.parse(text)?;
        Ok(parser.out)
    }

    fn parse(&mut self, text: &str) -> Result<(), TemplateError> {
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if rest[..open].ends_with('\\') {
                self.literal(&rest[..open - 1])?;
                self.literal("{{")?;
                rest = &rest[open + 2..];
                continue;
            }
            self.literal(&rest[..open])?;
            let after = &rest[open + 2..];
            let offset = text.len() - rest.len() + open;
            let close = after.find("}}").ok_or(TemplateError::Unterminated { offset })?;
            let inner = after[..close].trim();
            if let Some(name) = inner.strip_prefix('>') {
                self.include(name.trim())?;
            } else {
                self.variable(inner)?;
            }
            rest = &after[close + 2..];
        }
        self.literal(rest)
    }

    fn literal(&mut self, s: &str) -> Result<(), TemplateError> {
        if s.is_empty() {
            return Ok(());
        }
        self.literal_len += s.len();
        if self.literal_len > self.out.max_size {
            return Err(TemplateError::TooLarge { limit: self.out.max_size, actual: self.literal_len });
        }
        match self.out.segments.last_mut() {
            Some(Segment::Text(t)) => t.push_str(s),
            _ => self.out.segments.push(Segment::Text(s.to_owned())),
        }
        Ok(())
    }

    fn variable(&mut self, name: &str) -> Result<(), TemplateError> {
        if !self.guard.is_allowed_var(name) {
            return Err(TemplateError::InvalidVariableName(truncate(name, 64)));
        }
        let name: Arc<str> = match self.out.variables.iter().find(|v| ***v == *name) {
            Some(known) => known.clone(),
            None => {
                let new: Arc<str> = Arc::from(name);
                self.out.variables.push(new.clone());
                new
            }
        };
        self.out.segments.push(Segment::Var(name));
        Ok(())
    }

    fn include(&mut self, name: &str) -> Result<(), TemplateError> {
        // Names may be mapped to files by the lookup: no empty, `.` or `..` segments.
        let valid = name.len() <= 128
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.:/-".contains(&b))
            && name.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..");
        if !valid {
            return Err(TemplateError::InvalidIncludeName(truncate(name, 64)));
        }
        let lookup = self.lookup.ok_or(TemplateError::IncludesUnsupported)?;
        if self.stack.iter().any(|n| n == name) {
            return Err(TemplateError::IncludeCycle(name.to_owned()));
        }
        let limit = self.guard.max_template_depth();
        if self.stack.len() >= limit {
            return Err(TemplateError::IncludeTooDeep { limit });
        }
        let body = lookup(name).ok_or_else(|| TemplateError::IncludeNotFound(name.to_owned()))?;
        self.stack.push(name.to_owned());
        self.parse(&body)?;
        self.stack.pop();
        Ok(())
    }
}
