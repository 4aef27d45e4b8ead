//! Replacing bulkId references (RFC 7644 §3.7.2) with the ids the server assigned earlier in
//! the run, before a request leaves outside `/Bulk`.

use std::collections::HashMap;

use serde_json::Value;

use crate::plan::BULK_ID_PREFIX;

/// `value` with every `"bulkId:X"` string, at any depth, replaced by the id created for `X`,
/// or `None` when it holds no reference (most do, and need no copy). Fails with the first
/// bulkId that has no id.
pub(super) fn body(value: &Value, ids: &HashMap<String, String>) -> Result<Option<Value>, String> {
    if has_reference(value) {
        replace(value, ids).map(Some)
    } else {
        Ok(None)
    }
}

fn has_reference(value: &Value) -> bool {
    match value {
        Value::String(text) => reference(text).is_some(),
        Value::Array(items) => items.iter().any(has_reference),
        Value::Object(object) => object.values().any(has_reference),
        _ => false,
    }
}

fn replace(value: &Value, ids: &HashMap<String, String>) -> Result<Value, String> {
    Ok(match value {
        Value::String(text) => match reference(text) {
            Some(bulk_id) => Value::String(resolve(bulk_id, ids)?),
            None => value.clone(),
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| replace(item, ids))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(k, v)| Ok((k.clone(), replace(v, ids)?)))
                .collect::<Result<_, String>>()?,
        ),
        _ => value.clone(),
    })
}

/// `path` with a bulkId reference as its last segment replaced by the id created for it.
pub(super) fn path(path: &str, ids: &HashMap<String, String>) -> Result<String, String> {
    match path.rsplit_once('/') {
        Some((head, last)) => match reference(last) {
            Some(bulk_id) => Ok(format!("{head}/{}", resolve(bulk_id, ids)?)),
            None => Ok(path.to_owned()),
        },
        None => Ok(path.to_owned()),
    }
}

/// The bulkId a whole string refers to: `bulkId:` and then a name without spaces.
fn reference(text: &str) -> Option<&str> {
    text.strip_prefix(BULK_ID_PREFIX)
        .filter(|id| !id.is_empty() && !id.contains(char::is_whitespace))
}

fn resolve(bulk_id: &str, ids: &HashMap<String, String>) -> Result<String, String> {
    ids.get(bulk_id).cloned().ok_or_else(|| bulk_id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids() -> HashMap<String, String> {
        HashMap::from([("u1".to_owned(), "id-1".to_owned())])
    }

    #[test]
    fn references_are_replaced_at_any_depth() {
        let patch = json!({
            "Operations": [{"op": "add", "path": "members",
                            "value": [{"value": "bulkId:u1"}, {"value": "42"}]}],
            "note": "bulkId: u1 is text, not a reference",
            "text": "see bulkId:u1"
        });
        let sent = body(&patch, &ids()).unwrap().unwrap();
        assert_eq!(sent["Operations"][0]["value"][0]["value"], "id-1");
        assert_eq!(sent["Operations"][0]["value"][1]["value"], "42");
        assert_eq!(sent["note"], patch["note"]);
        assert_eq!(sent["text"], patch["text"]);
    }

    #[test]
    fn a_body_without_references_is_not_copied() {
        assert_eq!(body(&json!({"userName": "ada"}), &ids()), Ok(None));
    }

    #[test]
    fn an_unknown_reference_is_reported() {
        let patch = json!({"members": [{"value": "bulkId:u9"}]});
        assert_eq!(body(&patch, &ids()), Err("u9".to_owned()));
        assert_eq!(path("/Users/bulkId:u9", &ids()), Err("u9".to_owned()));
    }

    #[test]
    fn the_last_path_segment_is_replaced() {
        assert_eq!(path("/Users/bulkId:u1", &ids()).unwrap(), "/Users/id-1");
        assert_eq!(path("/Users/7", &ids()).unwrap(), "/Users/7");
        assert_eq!(path("/Users", &ids()).unwrap(), "/Users");
    }
}
