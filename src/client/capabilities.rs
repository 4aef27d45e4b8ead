//! What a server announces in `/ServiceProviderConfig` (RFC 7643 §5), read tolerantly: a
//! missing or malformed section means "not supported", never a failure, because the engine can
//! always fall back to the plainest requests.

use scim::attribute::get_ci;
use scim::profile::Profile;
use serde_json::Value;

/// Bulk limits (RFC 7643 §5 `bulk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BulkLimits {
    pub max_operations: usize,
    pub max_payload_size: usize,
}

/// The parts of a `ServiceProviderConfig` that decide how to read and write.
// Each flag is an independent answer of the server; an enum would not make them clearer.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Capabilities {
    pub patch: bool,
    pub bulk: Option<BulkLimits>,
    pub filter: bool,
    /// `filter.maxResults`: the largest page the server promises to return.
    pub max_results: Option<usize>,
    pub etag: bool,
    pub sort: bool,
    /// Whether the server pages only by cursor (RFC 9865): its `pagination` announces `cursor`
    /// and refuses `index`, or its provider profile says so. Listings then follow `nextCursor`
    /// one page at a time instead of asking for pages by `startIndex`. Left out of a saved plan
    /// when false, so that plans of other servers read as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cursor: bool,
}

impl Default for Capabilities {
    /// What to assume of a server that says nothing: plain RFC 7644 with PATCH (it is a MUST
    /// for servers that claim support, and PUT is the fallback the engine can ask for).
    fn default() -> Self {
        Capabilities {
            patch: false,
            bulk: None,
            filter: false,
            max_results: None,
            etag: false,
            sort: false,
            cursor: false,
        }
    }
}

impl Capabilities {
    #[must_use]
    pub fn from_json(body: Option<&Value>) -> Self {
        let Some(body) = body else {
            return Capabilities::default();
        };
        let section = |name: &str| get_ci(body, name);
        let field =
            |section: Option<&Value>, name: &str| section.and_then(|s| get_ci(s, name)).cloned();
        let supported = |name: &str| {
            field(section(name), "supported")
                .and_then(|v| as_bool(&v))
                .unwrap_or(false)
        };
        let number = |name: &str, key: &str| {
            field(section(name), key)
                .as_ref()
                .and_then(as_usize)
                .filter(|n| *n > 0)
        };
        let bulk = if supported("bulk") {
            match (
                number("bulk", "maxOperations"),
                number("bulk", "maxPayloadSize"),
            ) {
                (Some(max_operations), Some(max_payload_size)) => Some(BulkLimits {
                    max_operations,
                    max_payload_size,
                }),
                _ => None,
            }
        } else {
            None
        };
        Capabilities {
            patch: supported("patch"),
            bulk,
            filter: supported("filter"),
            max_results: number("filter", "maxResults"),
            etag: supported("etag"),
            sort: supported("sort"),
            cursor: cursor_only(section("pagination")),
        }
    }
}

/// Whether RFC 9865's `pagination` section says the server pages by cursor only: `index`
/// explicitly false, and `cursor` true or `defaultPaginationMethod` "cursor". A server that
/// says nothing of `index` is taken to accept it, as RFC 7644 has every server do.
fn cursor_only(pagination: Option<&Value>) -> bool {
    let Some(pagination) = pagination else {
        return false;
    };
    let flag = |name: &str| get_ci(pagination, name).and_then(as_bool);
    let default_is_cursor = get_ci(pagination, "defaultPaginationMethod")
        .and_then(Value::as_str)
        .is_some_and(|method| method.trim().eq_ignore_ascii_case("cursor"));
    flag("index") == Some(false) && (flag("cursor") == Some(true) || default_is_cursor)
}

impl Capabilities {
    /// What a server may be asked, given what its service documents about itself (README,
    /// Provider profiles): no Bulk where the service has none, pages no larger than its cap,
    /// and no `startIndex` where the service pages by cursor only. A profile only takes away:
    /// what the server announces otherwise still holds.
    #[must_use]
    pub fn within(mut self, profile: Option<&Profile>) -> Self {
        let Some(profile) = profile else {
            return self;
        };
        if !profile.bulk {
            self.bulk = None;
        }
        let cap = profile.paging.max_count;
        self.max_results = Some(self.max_results.map_or(cap, |announced| announced.min(cap)));
        // A server that announces cursor-only paging is believed even where its profile
        // documents `startIndex`: it is the server's own word on what it accepts now.
        self.cursor |= profile.paging.cursor && !profile.paging.index;
        self
    }
}

/// Booleans as servers send them: JSON booleans, or the strings "true"/"false".
fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Counts as servers send them: JSON numbers, or numeric strings.
fn as_usize(value: &Value) -> Option<usize> {
    match value {
        Value::Number(n) => n.as_u64().map(|n| n as usize),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_full_config() {
        let spc = json!({
            "patch": {"supported": true},
            "bulk": {"supported": true, "maxOperations": 1000, "maxPayloadSize": 1_048_576},
            "filter": {"supported": true, "maxResults": 200},
            "etag": {"supported": true},
            "sort": {"supported": false}
        });
        let caps = Capabilities::from_json(Some(&spc));
        assert!(caps.patch && caps.filter && caps.etag && !caps.sort);
        assert_eq!(
            caps.bulk,
            Some(BulkLimits {
                max_operations: 1000,
                max_payload_size: 1_048_576
            })
        );
        assert_eq!(caps.max_results, Some(200));
        assert!(!caps.cursor);
    }

    #[test]
    fn cursor_only_paging_is_read_from_pagination() {
        let cursor = |pagination: Value| {
            Capabilities::from_json(Some(&json!({"pagination": pagination}))).cursor
        };
        assert!(cursor(json!({"cursor": true, "index": false})));
        assert!(cursor(
            json!({"Cursor": "true", "INDEX": "false", "maxPageSize": 100})
        ));
        assert!(cursor(
            json!({"defaultPaginationMethod": "cursor", "index": false})
        ));
        // Cursor offered besides startIndex, or nothing said of startIndex: index paging.
        assert!(!cursor(json!({"cursor": true, "index": true})));
        assert!(!cursor(json!({"cursor": true})));
        assert!(!cursor(json!({"defaultPaginationMethod": "cursor"})));
        assert!(!cursor(json!({"cursor": false, "index": false})));
        assert!(!cursor(json!("cursor")));
    }

    #[test]
    fn a_profile_without_start_index_pages_by_cursor() {
        use scim::profile::{AWS_IDENTITY_CENTER, SLACK};
        let caps = Capabilities::default().within(Some(&AWS_IDENTITY_CENTER));
        assert!(caps.cursor);
        assert_eq!(caps.max_results, Some(100));
        assert!(!Capabilities::default().within(Some(&SLACK)).cursor);
        let announced = Capabilities {
            cursor: true,
            ..Capabilities::default()
        };
        assert!(announced.within(Some(&SLACK)).cursor);
    }

    #[test]
    fn a_saved_plan_reads_the_same_with_or_without_cursor() {
        let caps = Capabilities::default();
        let text = serde_json::to_string(&caps).unwrap();
        assert!(!text.contains("cursor"), "{text}");
        let read: Capabilities = serde_json::from_str(&text).unwrap();
        assert_eq!(read, caps);
        let cursor = Capabilities {
            cursor: true,
            ..Capabilities::default()
        };
        let text = serde_json::to_string(&cursor).unwrap();
        assert!(text.ends_with(r#""cursor":true}"#), "{text}");
        assert_eq!(serde_json::from_str::<Capabilities>(&text).unwrap(), cursor);
    }

    #[test]
    fn tolerates_missing_sections_strings_and_odd_case() {
        let spc = json!({
            "Patch": {"Supported": "true"},
            "bulk": {"supported": true, "maxOperations": 0, "maxPayloadSize": 10},
            "filter": {"supported": true, "maxResults": "50"}
        });
        let caps = Capabilities::from_json(Some(&spc));
        assert!(caps.patch);
        assert_eq!(
            caps.bulk, None,
            "a bulk limit of 0 operations is no bulk at all"
        );
        assert_eq!(caps.max_results, Some(50));
        assert!(!caps.etag);
        assert_eq!(Capabilities::from_json(None), Capabilities::default());
        assert_eq!(
            Capabilities::from_json(Some(&json!("nonsense"))),
            Capabilities::default()
        );
    }
}
