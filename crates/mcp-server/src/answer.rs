//! The bytes of an answer. In the stateless era a result carries `resultType`, `_meta.serverInfo`
//! and, for cacheable methods, `ttlMs` / `cacheScope`: they are written while the result is
//! serialized, not inserted into the value first (that cost a dozen small allocations and map
//! inserts per request).

use mcp_protocol::types::{CallToolResult, Implementation};
use mcp_protocol::{Era, RequestId};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::McpServer;
use crate::dispatch::{META_SERVER_INFO, Outcome, Reply};

/// What the stateless era adds to every result.
#[derive(Clone, Copy)]
pub(crate) struct Additions<'a> {
    /// `ttlMs` of a cacheable method's result; `None` for the others.
    pub(crate) ttl_ms: Option<u64>,
    pub(crate) name: &'a str,
    pub(crate) version: &'a str,
    /// The whole `_meta` of a result without one (see [`result_meta`]).
    pub(crate) meta: Option<&'a RawValue>,
}

/// The `_meta` object of a result that has none (the server's identity), serialized once.
/// `None` cannot happen (string keys only); the encoder then builds it per result.
pub(crate) fn result_meta(info: &Implementation) -> Option<Box<RawValue>> {
    let add = Additions { ttl_ms: None, name: &info.name, version: &info.version, meta: None };
    serde_json::value::to_raw_value(&Meta { meta: &Map::new(), add }).ok()
}

impl McpServer {
    /// Serialize the answer to request `id`; `cacheable`: the method's results carry caching
    /// hints in the stateless era.
    pub(crate) fn encode_answer(&self, id: &RequestId, era: Era, cacheable: bool, outcome: &Outcome) -> Vec<u8> {
        let add = || Additions {
            ttl_ms: cacheable.then_some(self.0.settings.cache_ttl_ms),
            name: &self.0.info.name,
            version: &self.0.info.version,
            meta: self.0.result_meta.as_deref(),
        };
        match outcome {
            Ok(Reply::Json(Value::Object(map))) if era == Era::Modern => {
                mcp_protocol::encode_result(id, &Stateless { map, add: add() })
            }
            Ok(Reply::Tool(result)) if era == Era::Modern => {
                mcp_protocol::encode_result(id, &StatelessTool { result, add: add() })
            }
            Ok(Reply::Json(v)) => mcp_protocol::encode_result(id, v),
            Ok(Reply::Tool(result)) => mcp_protocol::encode_result(id, result),
            Err(e) => mcp_protocol::encode_error(Some(id), e),
        }
    }
}

/// A result object with the stateless era's additions. A key the result already has wins for
/// `resultType` (an input-required result sets its own); the caching hints and
/// `_meta.serverInfo` are the server's and replace whatever the handler put there.
pub(crate) struct Stateless<'a> {
    pub(crate) map: &'a Map<String, Value>,
    pub(crate) add: Additions<'a>,
}

impl Serialize for Stateless<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(None)?;
        let mut has_meta = false;
        for (k, v) in self.map {
            match (k.as_str(), v) {
                ("ttlMs" | "cacheScope", _) if self.add.ttl_ms.is_some() => {}
                ("_meta", Value::Object(meta)) => {
                    has_meta = true;
                    out.serialize_entry(k, &Meta { meta, add: self.add })?;
                }
                ("_meta", _) => {
                    // Not an object: left as the handler made it, without serverInfo.
                    has_meta = true;
                    out.serialize_entry(k, v)?;
                }
                _ => out.serialize_entry(k, v)?,
            }
        }
        if !self.map.contains_key("resultType") {
            out.serialize_entry("resultType", "complete")?;
        }
        if let Some(ttl) = self.add.ttl_ms {
            out.serialize_entry("ttlMs", &ttl)?;
            out.serialize_entry("cacheScope", "private")?;
        }
        match (has_meta, self.add.meta) {
            (true, _) => {}
            (false, Some(raw)) => out.serialize_entry("_meta", raw)?,
            (false, None) => out.serialize_entry("_meta", &Meta { meta: &Map::new(), add: self.add })?,
        }
        out.end()
    }
}

/// A typed tool result with the stateless era's additions: its own fields, then `resultType`,
/// the caching hints (when the method has them) and `_meta` (a tool result has none of its own).
pub(crate) struct StatelessTool<'a> {
    pub(crate) result: &'a CallToolResult,
    pub(crate) add: Additions<'a>,
}

impl Serialize for StatelessTool<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Wire<'a> {
            #[serde(flatten)]
            result: &'a CallToolResult,
            #[serde(rename = "resultType")]
            result_type: &'static str,
            #[serde(rename = "ttlMs", skip_serializing_if = "Option::is_none")]
            ttl_ms: Option<u64>,
            #[serde(rename = "cacheScope", skip_serializing_if = "Option::is_none")]
            cache_scope: Option<&'static str>,
            #[serde(rename = "_meta")]
            meta: MetaOut<'a>,
        }
        let meta = match self.add.meta {
            Some(raw) => MetaOut::Raw(raw),
            None => MetaOut::Built(Meta { meta: &EMPTY, add: self.add }),
        };
        Wire {
            result: self.result,
            result_type: "complete",
            ttl_ms: self.add.ttl_ms,
            cache_scope: self.add.ttl_ms.map(|_| "private"),
            meta,
        }
        .serialize(s)
    }
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

/// The `_meta` of a result without one: serialized at build, or built per result.
enum MetaOut<'a> {
    Raw(&'a RawValue),
    Built(Meta<'a>),
}

impl Serialize for MetaOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Raw(raw) => raw.serialize(s),
            Self::Built(meta) => meta.serialize(s),
        }
    }
}

/// A `_meta` object with the server's identity under [`META_SERVER_INFO`].
struct Meta<'a> {
    meta: &'a Map<String, Value>,
    add: Additions<'a>,
}

impl Serialize for Meta<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(None)?;
        for (k, v) in self.meta.iter().filter(|(k, _)| k.as_str() != META_SERVER_INFO) {
            out.serialize_entry(k, v)?;
        }
        out.serialize_entry(META_SERVER_INFO, &Identity { name: self.add.name, version: self.add.version })?;
        out.end()
    }
}

#[derive(serde::Serialize)]
struct Identity<'a> {
    name: &'a str,
    version: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode(result: Value, ttl_ms: Option<u64>) -> Value {
        let Value::Object(map) = result else { panic!("not an object") };
        let info = Implementation { name: "srv".into(), version: "1.2".into(), title: None };
        let meta = result_meta(&info);
        let add = Additions { ttl_ms, name: "srv", version: "1.2", meta: meta.as_deref() };
        let bytes = mcp_protocol::encode_result(&RequestId::Number(1), &Stateless { map: &map, add });
        serde_json::from_slice::<Value>(&bytes).unwrap()["result"].clone()
    }

    #[test]
    fn adds_result_type_meta_and_caching_hints() {
        let info = json!({"name": "srv", "version": "1.2"});
        let r = encode(json!({"content": []}), None);
        assert_eq!(r, json!({"content": [], "resultType": "complete", "_meta": {META_SERVER_INFO: info}}));
        let r = encode(json!({"tools": []}), Some(5000));
        assert_eq!(r["ttlMs"], json!(5000));
        assert_eq!(r["cacheScope"], json!("private"));
        assert_eq!(r["resultType"], json!("complete"));
    }

    #[test]
    fn keeps_the_handlers_keys_but_not_its_server_info_or_hints() {
        let r = encode(
            json!({
                "resultType": "input_required",
                "ttlMs": 1,
                "cacheScope": "public",
                "_meta": {"progressToken": 7, META_SERVER_INFO: {"name": "forged"}}
            }),
            Some(10),
        );
        assert_eq!(r["resultType"], json!("input_required"));
        assert_eq!(r["ttlMs"], json!(10));
        assert_eq!(r["cacheScope"], json!("private"));
        assert_eq!(r["_meta"], json!({"progressToken": 7, META_SERVER_INFO: {"name": "srv", "version": "1.2"}}));
        // Without caching hints for the method, the handler's keys stay.
        let r = encode(json!({"ttlMs": 1}), None);
        assert_eq!(r["ttlMs"], json!(1));
        // Every key appears once in the bytes (a parsed map would hide a duplicate).
        let Value::Object(map) = json!({"_meta": {}, "resultType": "complete", "ttlMs": 2}) else { panic!() };
        let add = Additions { ttl_ms: Some(1), name: "srv", version: "1.2", meta: None };
        let text = String::from_utf8(mcp_protocol::encode_result(&RequestId::Number(1), &Stateless { map: &map, add }))
            .unwrap();
        for key in
            ["\"_meta\"", "\"resultType\"", "\"ttlMs\"", "\"cacheScope\"", "\"io.modelcontextprotocol/serverInfo\""]
        {
            assert_eq!(text.matches(key).count(), 1, "{key} in {text}");
        }
    }

    #[test]
    fn a_typed_tool_result_encodes_as_its_json_would() {
        use mcp_protocol::types::Content;
        let info = Implementation { name: "srv".into(), version: "1.2".into(), title: None };
        let meta = result_meta(&info);
        let results = [
            CallToolResult::text("5"),
            CallToolResult::error("bad input"),
            CallToolResult {
                content: vec![
                    Content::text("a"),
                    Content::Image { data: "AAAA".into(), mime_type: "image/png".into() },
                ],
                structured_content: Some(json!({"value": 5, "unit": "m"})),
                is_error: false,
            },
        ];
        for result in &results {
            for (ttl_ms, meta) in [(None, meta.as_deref()), (Some(9), None)] {
                let add = Additions { ttl_ms, name: "srv", version: "1.2", meta };
                let typed = mcp_protocol::encode_result(&RequestId::Number(1), &StatelessTool { result, add });
                let Value::Object(map) = serde_json::to_value(result).unwrap() else { panic!("not an object") };
                let walked = mcp_protocol::encode_result(&RequestId::Number(1), &Stateless { map: &map, add });
                let (typed, walked): (Value, Value) =
                    (serde_json::from_slice(&typed).unwrap(), serde_json::from_slice(&walked).unwrap());
                assert_eq!(typed, walked);
                let text = String::from_utf8(mcp_protocol::encode_result(
                    &RequestId::Number(1),
                    &StatelessTool { result, add },
                ))
                .unwrap();
                for key in ["\"_meta\"", "\"resultType\"", "\"io.modelcontextprotocol/serverInfo\""] {
                    assert_eq!(text.matches(key).count(), 1, "{key} in {text}");
                }
            }
        }
    }

    #[test]
    fn a_non_object_meta_is_left_alone() {
        let r = encode(json!({"_meta": 3}), None);
        assert_eq!(r["_meta"], json!(3));
    }
}
