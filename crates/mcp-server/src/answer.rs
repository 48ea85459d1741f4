//! The bytes of an answer. In the stateless era a result carries `resultType`, `_meta.serverInfo`
//! and, for cacheable methods, `ttlMs` / `cacheScope`: they are written while the result is
//! serialized, not inserted into the value first (that cost a dozen small allocations and map
//! inserts per request).

use mcp_protocol::types::Implementation;
use mcp_protocol::{Era, RequestId};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::McpServer;
use crate::dispatch::{META_SERVER_INFO, Outcome};

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
        match outcome {
            Ok(Value::Object(map)) if era == Era::Modern => {
                let add = Additions {
                    ttl_ms: cacheable.then_some(self.0.settings.cache_ttl_ms),
                    name: &self.0.info.name,
                    version: &self.0.info.version,
                    meta: self.0.result_meta.as_deref(),
                };
                mcp_protocol::encode_result(id, &Stateless { map, add })
            }
            Ok(v) => mcp_protocol::encode_result(id, v),
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
    fn a_non_object_meta_is_left_alone() {
        let r = encode(json!({"_meta": 3}), None);
        assert_eq!(r["_meta"], json!(3));
    }
}
