//! The bodies of the two SCIM messages both sides handle: a `ListResponse` (RFC 7644 §3.4.2),
//! which the server builds and the client reads page by page, and an `Error` (RFC 7644 §3.12),
//! which the server builds and the client reads from any server. Their member names are written
//! here once; the client reads them leniently (a number written as a string, any spelling's
//! case), the server writes them as the RFC spells them.

use serde_json::{Value, json};

use crate::attribute::get_ci;
use crate::urn;

/// `totalResults`: how many resources the query matches in all.
pub const TOTAL_RESULTS: &str = "totalResults";
/// `startIndex`: the 1-based index of the page's first resource.
pub const START_INDEX: &str = "startIndex";
/// `itemsPerPage`: how many resources the page holds.
pub const ITEMS_PER_PAGE: &str = "itemsPerPage";
/// `Resources`: the page's resources.
pub const RESOURCES: &str = "Resources";
/// `cursor`: the query parameter asking for a page by cursor (RFC 9865); empty for the first.
pub const CURSOR: &str = "cursor";
/// `nextCursor`: the cursor of the page after this one, absent on the last (RFC 9865).
pub const NEXT_CURSOR: &str = "nextCursor";

/// An `Error`'s HTTP status, written as a string (RFC 7644 §3.12).
pub const STATUS: &str = "status";
/// An `Error`'s `scimType`: the kind of a 400 or 409 (`uniqueness`, `invalidFilter`, …).
pub const SCIM_TYPE: &str = "scimType";
/// An `Error`'s human-readable `detail`.
pub const DETAIL: &str = "detail";

/// A `ListResponse` body holding `resources`, the page of `total` results from `start_index`.
#[must_use]
pub fn list_response(total: usize, start_index: usize, resources: &[Value]) -> Value {
    json!({
        "schemas": [urn::LIST_RESPONSE],
        TOTAL_RESULTS: total,
        START_INDEX: start_index,
        ITEMS_PER_PAGE: resources.len(),
        RESOURCES: resources,
    })
}

/// A SCIM error, as a server sends it and as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBody {
    pub status: u16,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
}

impl ErrorBody {
    /// The error a response of `status` carries in `body`, if it is JSON: `scimType` and
    /// `detail` where they are strings, nothing else assumed of a server's body.
    #[must_use]
    pub fn read(status: u16, body: Option<&Value>) -> Self {
        let text = |key: &str| {
            body.and_then(|b| get_ci(b, key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        ErrorBody {
            status,
            scim_type: text(SCIM_TYPE),
            detail: text(DETAIL),
        }
    }

    /// The `Error` body: `schemas`, `status` as a string, `detail`, and `scimType` when set.
    #[must_use]
    pub fn to_value(&self) -> Value {
        let mut body = json!({
            "schemas": [urn::ERROR],
            STATUS: self.status.to_string(),
            DETAIL: self.detail,
        });
        if let Some(scim_type) = &self.scim_type {
            body[SCIM_TYPE] = json!(scim_type);
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_reads_back_what_it_writes() {
        let error = ErrorBody {
            status: 409,
            scim_type: Some("uniqueness".into()),
            detail: Some("userName is taken".into()),
        };
        let body = error.to_value();
        assert_eq!(body["status"], "409");
        assert_eq!(body["schemas"], json!([urn::ERROR]));
        assert_eq!(ErrorBody::read(409, Some(&body)), error);
        // Member names are read in any case (RFC 7643 §2.1).
        let shouted = json!({"ScimType": "uniqueness", "DETAIL": "userName is taken"});
        assert_eq!(ErrorBody::read(409, Some(&shouted)), error);
        // What a server leaves out, or writes as something else, is not assumed.
        let odd = json!({"scimType": 7, "detail": null});
        assert_eq!(
            ErrorBody::read(500, Some(&odd)),
            ErrorBody {
                status: 500,
                scim_type: None,
                detail: None
            }
        );
    }

    #[test]
    fn a_list_response_names_its_members_as_the_rfc_does() {
        let page = list_response(3, 2, &[json!({"id": "a"})]);
        assert_eq!(
            page,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 3, "startIndex": 2, "itemsPerPage": 1,
                "Resources": [{"id": "a"}]
            })
        );
    }
}
