//! Walking MCP results and requests for content blocks.

use std::io;

use serde_json::{Map, Value};

use super::{ContentRules, ContentViolation, base64};
use crate::text::{pointer, push_index, push_token, truncate};

/// Deepest nesting [`ContentRules::check_embedded_in_request`] walks.
pub const MAX_REQUEST_DEPTH: usize = 64;

/// Where the walk is, as a JSON pointer that is only rendered when a violation needs it (the
/// walk of a valid result builds no string).
#[derive(Clone, Copy)]
enum Ptr<'a> {
    /// A pointer given as text (`""` is the root).
    Text(&'a str),
    /// A member of an object.
    Key(&'a Ptr<'a>, &'a str),
    /// An element of an array.
    Index(&'a Ptr<'a>, usize),
}

impl Ptr<'_> {
    const ROOT: Ptr<'static> = Ptr::Text("");

    fn render(&self) -> String {
        match self {
            Self::Text(s) => (*s).to_owned(),
            Self::Key(parent, key) => push_token(&parent.render(), key),
            Self::Index(parent, i) => push_index(&parent.render(), *i),
        }
    }
}

fn violation(ptr: &Ptr<'_>, rule: &'static str) -> ContentViolation {
    ContentViolation { pointer: pointer(&ptr.render()), rule, limit: None, actual: None, detail: None }
}

fn malformed(ptr: &Ptr<'_>, what: &'static str) -> ContentViolation {
    ContentViolation { detail: Some(what.to_owned()), ..violation(ptr, "malformed") }
}

fn too_big(ptr: &Ptr<'_>, rule: &'static str, limit: u64, actual: u64) -> ContentViolation {
    ContentViolation { limit: Some(limit), actual: Some(actual), ..violation(ptr, rule) }
}

impl ContentRules {
    /// Checks a `tools/call` result: every block of `content`, and the serialized size of
    /// `structuredContent` against `max_text_length` (its `actual` is then a lower bound:
    /// counting stops once the limit is passed).
    ///
    /// # Errors
    /// The first [`ContentViolation`] found.
    pub fn check_tool_result(&self, result: &Value) -> Result<(), ContentViolation> {
        let obj = result.as_object().ok_or_else(|| malformed(&Ptr::ROOT, "a tool result must be an object"))?;
        self.check_block_array(obj, "content", &Ptr::ROOT)?;
        match obj.get("structuredContent") {
            Some(structured) => self.check_structured_content(structured),
            None => Ok(()),
        }
    }

    /// Checks the text of a tool result's `content[index]` text block against
    /// `max_text_length`: the same rule [`check_tool_result`](Self::check_tool_result) applies
    /// to that block, for a caller that holds the result typed rather than as JSON.
    ///
    /// # Errors
    /// `max_text_length`, pointing at `/content/<index>/text`.
    pub fn check_tool_text(&self, index: usize, text: &str) -> Result<(), ContentViolation> {
        let content = Ptr::Key(&Ptr::ROOT, "content");
        let block = Ptr::Index(&content, index);
        self.check_text_str(text, &Ptr::Key(&block, "text"))
    }

    /// Checks a tool result's `structuredContent`: its serialized size against
    /// `max_text_length` (the `actual` of a violation is a lower bound: counting stops once the
    /// limit is passed).
    ///
    /// # Errors
    /// `max_text_length`, pointing at `/structuredContent`.
    pub fn check_structured_content(&self, structured: &Value) -> Result<(), ContentViolation> {
        let size = serialized_len(structured, self.max_text);
        if size > self.max_text {
            return Err(too_big(&Ptr::Key(&Ptr::ROOT, "structuredContent"), "max_text_length", self.max_text, size));
        }
        Ok(())
    }

    /// Checks a `resources/read` result: every entry of `contents` (`text` or `blob`, and
    /// `mimeType` when present).
    ///
    /// # Errors
    /// The first [`ContentViolation`] found.
    pub fn check_resource_contents(&self, result: &Value) -> Result<(), ContentViolation> {
        let obj = result.as_object().ok_or_else(|| malformed(&Ptr::ROOT, "a resource result must be an object"))?;
        let Some(contents) = obj.get("contents") else { return Ok(()) };
        let items =
            contents.as_array().ok_or_else(|| malformed(&Ptr::Key(&Ptr::ROOT, "contents"), "must be an array"))?;
        for (i, item) in items.iter().enumerate() {
            self.check_resource(item, &Ptr::Index(&Ptr::Key(&Ptr::ROOT, "contents"), i))?;
        }
        Ok(())
    }

    /// Checks a `prompts/get` result: the `content` of every entry of `messages` (one block or
    /// an array of blocks).
    ///
    /// # Errors
    /// The first [`ContentViolation`] found.
    pub fn check_prompt_messages(&self, result: &Value) -> Result<(), ContentViolation> {
        let obj = result.as_object().ok_or_else(|| malformed(&Ptr::ROOT, "a prompt result must be an object"))?;
        let Some(messages) = obj.get("messages") else { return Ok(()) };
        let items =
            messages.as_array().ok_or_else(|| malformed(&Ptr::Key(&Ptr::ROOT, "messages"), "must be an array"))?;
        for (i, message) in items.iter().enumerate() {
            let messages_ptr = Ptr::Key(&Ptr::ROOT, "messages");
            let ptr = Ptr::Index(&messages_ptr, i);
            let message = message.as_object().ok_or_else(|| malformed(&ptr, "a message must be an object"))?;
            match message.get("content") {
                Some(Value::Array(_)) => self.check_block_array(message, "content", &ptr)?,
                Some(block) => self.block(block, &Ptr::Key(&ptr, "content"))?,
                None => return Err(malformed(&ptr, "a message needs content")),
            }
        }
        Ok(())
    }

    /// Checks every content block found anywhere in a request's params (sampling and
    /// elicitation results, tool arguments that carry content), walking at most
    /// [`MAX_REQUEST_DEPTH`] levels. An object counts as a block when its `type` is a block type
    /// and it has that type's payload field (`text`, `data`, `resource` or `uri`).
    ///
    /// # Errors
    /// The first [`ContentViolation`] found; `max_depth` when the value nests deeper.
    pub fn check_embedded_in_request(&self, params: &Value) -> Result<(), ContentViolation> {
        self.walk(params, &Ptr::ROOT, 0)
    }

    fn walk(&self, value: &Value, ptr: &Ptr<'_>, depth: usize) -> Result<(), ContentViolation> {
        let children = match value {
            Value::Object(map) if looks_like_block(map) => return self.block(value, ptr),
            Value::Object(map) => map.len(),
            Value::Array(items) => items.len(),
            _ => return Ok(()),
        };
        if depth >= MAX_REQUEST_DEPTH && children > 0 {
            return Err(too_big(ptr, "max_depth", MAX_REQUEST_DEPTH as u64, depth as u64 + 1));
        }
        match value {
            Value::Object(map) => map.iter().try_for_each(|(k, v)| self.walk(v, &Ptr::Key(ptr, k), depth + 1)),
            Value::Array(items) => {
                items.iter().enumerate().try_for_each(|(i, v)| self.walk(v, &Ptr::Index(ptr, i), depth + 1))
            }
            _ => Ok(()),
        }
    }

    fn check_block_array(&self, obj: &Map<String, Value>, key: &str, ptr: &Ptr<'_>) -> Result<(), ContentViolation> {
        let here = Ptr::Key(ptr, key);
        let Some(value) = obj.get(key) else { return Ok(()) };
        let blocks = value.as_array().ok_or_else(|| malformed(&here, "must be an array of content blocks"))?;
        blocks.iter().enumerate().try_for_each(|(i, b)| self.block(b, &Ptr::Index(&here, i)))
    }

    /// Checks one content block (`text`, `image`, `audio`, `resource`, `resource_link`).
    ///
    /// # Errors
    /// The first [`ContentViolation`] found; `content_type` for any other block type.
    pub fn check_block(&self, block: &Value, ptr: &str) -> Result<(), ContentViolation> {
        self.block(block, &Ptr::Text(ptr))
    }

    fn block(&self, block: &Value, ptr: &Ptr<'_>) -> Result<(), ContentViolation> {
        let obj = block.as_object().ok_or_else(|| malformed(ptr, "a content block must be an object"))?;
        let kind = obj.get("type").and_then(Value::as_str).ok_or_else(|| malformed(ptr, "missing block type"))?;
        match kind {
            "text" => self.check_text(obj.get("text"), &Ptr::Key(ptr, "text"), true),
            "image" | "audio" => {
                self.check_mime(obj.get("mimeType"), &Ptr::Key(ptr, "mimeType"), true)?;
                self.check_binary(obj.get("data"), &Ptr::Key(ptr, "data"))
            }
            "resource" => self.check_resource(obj.get("resource").unwrap_or(&Value::Null), &Ptr::Key(ptr, "resource")),
            "resource_link" => self.check_mime(obj.get("mimeType"), &Ptr::Key(ptr, "mimeType"), false),
            other => Err(ContentViolation {
                detail: Some(format!("unknown content block type {:?}", truncate(other, 40))),
                ..violation(&Ptr::Key(ptr, "type"), "content_type")
            }),
        }
    }

    /// An embedded resource or a `resources/read` entry: `text` or `blob`, optional `mimeType`.
    fn check_resource(&self, value: &Value, ptr: &Ptr<'_>) -> Result<(), ContentViolation> {
        let obj = value.as_object().ok_or_else(|| malformed(ptr, "a resource must be an object"))?;
        self.check_mime(obj.get("mimeType"), &Ptr::Key(ptr, "mimeType"), false)?;
        match (obj.get("text"), obj.get("blob")) {
            (Some(_), Some(_)) => Err(malformed(ptr, "a resource has either text or blob, not both")),
            (text @ Some(_), None) => self.check_text(text, &Ptr::Key(ptr, "text"), true),
            (None, blob @ Some(_)) => self.check_binary(blob, &Ptr::Key(ptr, "blob")),
            (None, None) => Err(malformed(ptr, "a resource needs text or blob")),
        }
    }

    fn check_text(&self, text: Option<&Value>, ptr: &Ptr<'_>, required: bool) -> Result<(), ContentViolation> {
        match text {
            Some(Value::String(s)) => self.check_text_str(s, ptr),
            None if !required => Ok(()),
            _ => Err(malformed(ptr, "must be a string")),
        }
    }

    fn check_text_str(&self, s: &str, ptr: &Ptr<'_>) -> Result<(), ContentViolation> {
        if s.len() as u64 > self.max_text {
            return Err(too_big(ptr, "max_text_length", self.max_text, s.len() as u64));
        }
        Ok(())
    }

    fn check_binary(&self, data: Option<&Value>, ptr: &Ptr<'_>) -> Result<(), ContentViolation> {
        let Some(Value::String(s)) = data else { return Err(malformed(ptr, "must be a base64 string")) };
        // Size first: it needs only the length, so an oversized payload is refused in O(1).
        let size = base64::decoded_len_from_length(s);
        if size > self.max_binary {
            return Err(too_big(ptr, "max_binary_size", self.max_binary, size));
        }
        match base64::decoded_len(s) {
            Ok(_) => Ok(()),
            Err(e) => Err(ContentViolation { detail: Some(e.to_string()), ..violation(ptr, "base64") }),
        }
    }

    fn check_mime(&self, mime: Option<&Value>, ptr: &Ptr<'_>, required: bool) -> Result<(), ContentViolation> {
        match mime {
            Some(Value::String(m)) if self.mimes.allows(m) => Ok(()),
            Some(Value::String(m)) => Err(ContentViolation {
                detail: Some(format!("MIME type {:?} is not in allowed_mime_types", truncate(m, 100))),
                ..violation(ptr, "mime_type")
            }),
            None if !required => Ok(()),
            None => Err(ContentViolation { detail: Some("missing mimeType".into()), ..violation(ptr, "mime_type") }),
            Some(_) => Err(malformed(ptr, "must be a string")),
        }
    }
}

fn looks_like_block(map: &Map<String, Value>) -> bool {
    let Some(kind) = map.get("type").and_then(Value::as_str) else { return false };
    let payload = match kind {
        "text" => "text",
        "image" | "audio" => "data",
        "resource" => "resource",
        "resource_link" => "uri",
        _ => return false,
    };
    map.contains_key(payload)
}

/// Serialized JSON length of `value`, counting stops a little past `limit`.
fn serialized_len(value: &Value, limit: u64) -> u64 {
    struct Counter {
        n: u64,
        limit: u64,
    }
    impl io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.n += buf.len() as u64;
            if self.n > self.limit { Err(io::Error::other("over limit")) } else { Ok(buf.len()) }
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { n: 0, limit };
    // An error means the limit was passed; `n` is then already over it.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.n
}

#[cfg(test)]
mod tests;
