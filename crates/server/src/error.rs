//! Errors: [`ScimError`] is what a request answers (RFC 7644 §3.12), [`ServerError`] what
//! starting or running the server can fail with.

use serde_json::Value;

/// A SCIM error response: an HTTP status, an optional `scimType` and a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {}: {detail}", scim_type.unwrap_or("-"))]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// 400 `invalidValue`: a value that breaks the schema.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidValue"), detail)
    }

    /// 400 `invalidSyntax`: a request that is not the message it claims to be.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidSyntax"), detail)
    }

    /// 400 `invalidPath`.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(400, Some("invalidPath"), detail)
    }

    /// 400 `noTarget`.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::new(400, Some("noTarget"), detail)
    }

    /// 400 `mutability`.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(400, Some("mutability"), detail)
    }

    /// 404 for an id or route that does not exist.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }

    /// 409 `uniqueness`.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some("uniqueness"), detail)
    }

    /// 412: `If-Match` names another version.
    #[must_use]
    pub fn precondition_failed(current: &str) -> Self {
        Self::new(412, None, format!("the resource is at version {current}"))
    }

    /// 500: the store failed; the detail stays generic so nothing internal leaks.
    pub fn internal(error: &impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {error}");
        Self::new(500, None, "internal server error")
    }

    /// The `urn:ietf:params:scim:api:messages:2.0:Error` body.
    #[must_use]
    pub fn body(&self) -> Value {
        scim::message::ErrorBody {
            status: self.status,
            scim_type: self.scim_type.map(str::to_owned),
            detail: Some(self.detail.clone()),
        }
        .to_value()
    }
}

impl From<rusqlite::Error> for ScimError {
    fn from(error: rusqlite::Error) -> Self {
        Self::internal(&error)
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot open the store {path}: {source}")]
    Store {
        path: std::path::PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create {path}: {source}")]
    CreateDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot read the token file {path}: {source}")]
    TokenFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the token file {0} is empty")]
    EmptyToken(std::path::PathBuf),
    #[error(
        "the token in {path} {reason}; use a random token of at least {min} characters, such as \
         the output of `openssl rand -hex 32`",
        min = super::auth::MIN_TOKEN_LENGTH
    )]
    WeakToken {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("cannot write {path}: {source}")]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(
        "refusing {0}: it is a symbolic link, and the server never writes through one; give the \
         path of the file itself"
    )]
    Symlink(std::path::PathBuf),
    #[error("refusing {0}: it is not a regular file")]
    NotAFile(std::path::PathBuf),
    #[error("no source of randomness: {0}")]
    Random(String),
}
