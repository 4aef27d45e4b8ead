//! Client errors. Each names the request it is about (method and path) and, for an error
//! answer, the server's own SCIM error detail (RFC 7644 §3.12); none carries a header, so a
//! token cannot leak through an error message.

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::RequestLabel;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{url} is not a usable SCIM base URL: {reason}")]
    BadUrl { url: String, reason: String },

    #[error(
        "refusing to send the token over plain http to {url}: use https, or pass \
         --allow-insecure-http if this network is trusted"
    )]
    InsecureHttp { url: String },

    #[error("the token holds characters that cannot be sent in an HTTP header")]
    BadToken,

    #[error("{request}: could not reach the server: {source}")]
    Transport {
        request: RequestLabel,
        #[source]
        source: reqwest::Error,
    },

    #[error("{request}: the server answered {status}{}", describe(.scim_type.as_deref(), .detail.as_deref()))]
    Status {
        request: RequestLabel,
        status: u16,
        scim_type: Option<String>,
        detail: Option<String>,
        /// `Retry-After` is read by the retry layer; kept here so it can decide.
        retry_after: Option<u64>,
    },

    #[error(
        "{request}: not sent: the server has answered nothing for {silent_secs} s, so \
         scimform stopped sending to it"
    )]
    Unreachable {
        request: RequestLabel,
        silent_secs: u64,
    },

    #[error("{request}: refused the server's redirect{}: {reason}", .location.as_deref().map(|l| format!(" to {l}")).unwrap_or_default())]
    Redirected {
        request: RequestLabel,
        location: Option<String>,
        reason: super::RedirectRefusal,
    },

    #[error(
        "{request}: the response is larger than {}, the most scimform reads (the provider's \
         `limits.response_size`)",
        super::bytes(*.limit)
    )]
    TooLarge { request: RequestLabel, limit: usize },

    #[error(
        "{request}: the listing was not read in {}, the most scimform waits for one (the \
         provider's `limits.listing_time`), after {pages} requests",
        humantime::format_duration(*.limit)
    )]
    ListingTooSlow {
        request: RequestLabel,
        limit: std::time::Duration,
        pages: usize,
    },

    #[error("{request}: the response is not valid SCIM JSON: {reason}")]
    Decode {
        request: RequestLabel,
        reason: String,
    },
}

impl ClientError {
    pub(super) fn status(request: RequestLabel, status: StatusCode, body: Option<&Value>) -> Self {
        let error = scim::message::ErrorBody::read(status.as_u16(), body);
        ClientError::Status {
            request,
            status: error.status,
            scim_type: error.scim_type,
            detail: error.detail,
            retry_after: None,
        }
    }

    /// The same error with the delay the server asked for in `Retry-After` (RFC 9110 §10.2.3),
    /// in seconds, read from either the delay-seconds or the HTTP-date form.
    #[must_use]
    pub fn with_retry_after(mut self, seconds: Option<u64>) -> Self {
        if let ClientError::Status { retry_after, .. } = &mut self {
            *retry_after = seconds;
        }
        self
    }

    /// The HTTP status of an error response, if this is one.
    #[must_use]
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl ClientError {
    /// The same error with every occurrence of `token` replaced by `[redacted]` in the text it
    /// carries from the server (the SCIM error's `scimType` and `detail`, a decoding error's
    /// reason, which may quote the response) and in the request's path (which may hold an id
    /// the server chose): a server that echoes the `Authorization` header in an error never
    /// gets the token printed (README, Secrets in output).
    #[must_use]
    pub fn redacted(mut self, token: &SecretString) -> Self {
        let token = token.expose_secret();
        match &mut self {
            ClientError::Status {
                request,
                scim_type,
                detail,
                ..
            } => {
                redact(&mut request.path, token);
                for text in [scim_type, detail].into_iter().flatten() {
                    redact(text, token);
                }
            }
            ClientError::Decode { request, reason } => {
                redact(&mut request.path, token);
                redact(reason, token);
            }
            ClientError::Redirected {
                request, location, ..
            } => {
                redact(&mut request.path, token);
                if let Some(location) = location {
                    redact(location, token);
                }
            }
            ClientError::Transport { request, .. }
            | ClientError::TooLarge { request, .. }
            | ClientError::Unreachable { request, .. }
            | ClientError::ListingTooSlow { request, .. } => {
                redact(&mut request.path, token);
            }
            ClientError::BadUrl { .. }
            | ClientError::InsecureHttp { .. }
            | ClientError::BadToken => {}
        }
        self
    }
}

/// Replaces each occurrence of `token` in `text`, as sent or percent-encoded (as in a URL it
/// was echoed in).
fn redact(text: &mut String, token: &str) {
    if token.is_empty() {
        return;
    }
    if text.contains(token) {
        *text = text.replace(token, "[redacted]");
    }
    let encoded: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
    if encoded != token && text.contains(&encoded) {
        *text = text.replace(&encoded, "[redacted]");
    }
}

fn describe(scim_type: Option<&str>, detail: Option<&str>) -> String {
    match (scim_type, detail) {
        (None, None) => String::new(),
        (Some(t), None) => format!(" ({t})"),
        (None, Some(d)) => format!(": {d}"),
        (Some(t), Some(d)) => format!(" ({t}): {d}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Method;
    use serde_json::json;

    #[test]
    fn status_errors_carry_the_scim_detail() {
        let request = RequestLabel {
            method: Method::POST,
            path: "/Users".to_owned(),
        };
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": "409", "scimType": "uniqueness", "detail": "userName is taken"
        });
        let err = ClientError::status(request, StatusCode::CONFLICT, Some(&body));
        assert_eq!(
            err.to_string(),
            "POST /Users: the server answered 409 (uniqueness): userName is taken"
        );
        assert_eq!(err.http_status(), Some(409));
    }

    #[test]
    fn the_token_is_redacted_from_what_the_server_sent() {
        let token = SecretString::from("tok/3f9a c1");
        let request = RequestLabel {
            method: Method::GET,
            path: "/Users/tok%2F3f9a+c1".to_owned(),
        };
        let body = json!({
            "scimType": "invalidValue tok/3f9a c1",
            "detail": "bad Authorization: Bearer tok/3f9a c1 (tok%2F3f9a+c1)"
        });
        let err = ClientError::status(request.clone(), StatusCode::BAD_REQUEST, Some(&body))
            .redacted(&token);
        assert_eq!(
            err.to_string(),
            "GET /Users/[redacted]: the server answered 400 (invalidValue [redacted]): bad \
             Authorization: Bearer [redacted] ([redacted])"
        );
        let err = ClientError::Decode {
            request,
            reason: "invalid type: string \"tok/3f9a c1\"".to_owned(),
        }
        .redacted(&token);
        assert!(!err.to_string().contains("3f9a"), "{err}");
    }
}
