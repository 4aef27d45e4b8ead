//! From a provider in the config to a [`ScimClient`] talking to its server.
//!
//! An `embedded:PATH` provider starts the embedded server in-process on an ephemeral loopback
//! port over the store at PATH (README, The embedded server) and is then reached over HTTP like any
//! other: the engine has one code path for every server.

use secrecy::SecretString;

use crate::client::{ClientError, Connection, ReadLimits, RetryPolicy, ScimClient};
use crate::config::{Diagnostic, Endpoint, Provider, RequestLimits};
use scim_server::{self as server, EmbeddedServer, ServerError};

/// A provider's resolved endpoint and token, checked before any request is sent.
pub struct Target {
    pub provider: String,
    endpoint: Endpoint,
    auth_scheme: String,
    token: Option<SecretString>,
    limits: RequestLimits,
    /// The service an `embedded:` server behaves as: the provider's preset (README, Provider
    /// profiles), so that a rehearsal meets the service's rules.
    emulate: Option<&'static scim::profile::Profile>,
}

/// Resolves the URL and token of `provider` from the environment (`${VAR}`) or token file.
pub fn resolve(provider: &Provider, allow_insecure_http: bool) -> Result<Target, Vec<Diagnostic>> {
    let endpoint = provider.resolve_url(allow_insecure_http);
    let token = provider.resolve_token();
    let mut errors = Vec::new();
    let endpoint = endpoint.map_err(|e| errors.push(e)).ok();
    let token = token.map_err(|e| errors.push(e)).ok();
    match (endpoint, token) {
        (Some(endpoint), Some(token)) => {
            if let Some(token) = &token {
                crate::scrub::remember(token);
            }
            if token.is_none() && matches!(endpoint, Endpoint::Http(_)) {
                return Err(vec![
                    Diagnostic::new(format!(
                        "provider `{}` has no token: its server needs one",
                        provider.name()
                    ))
                    .help("add `token: ${VAR}` or `token_file: PATH` to the provider"),
                ]);
            }
            Ok(Target {
                provider: provider.name().to_owned(),
                endpoint,
                auth_scheme: provider.auth_scheme().to_owned(),
                token,
                limits: provider.request_limits(),
                emulate: provider.profile(),
            })
        }
        _ => Err(errors),
    }
}

impl Target {
    /// The `Authorization` scheme the token is sent with.
    #[must_use]
    pub fn auth_scheme(&self) -> &str {
        &self.auth_scheme
    }

    /// Whether the target is the embedded server (README, The embedded server).
    #[must_use]
    pub fn is_embedded(&self) -> bool {
        matches!(self.endpoint, Endpoint::Embedded(_))
    }

    /// Where the target is, fit to show and to record in a saved plan: the resolved URL's
    /// scheme, host, port and path, without a user, password, query or fragment, which may
    /// hold secrets (README, Plans); or `embedded:` and the store's absolute path.
    #[must_use]
    pub fn server_url(&self) -> String {
        match &self.endpoint {
            Endpoint::Http(url) => {
                let mut shown = url.clone();
                let _ = shown.set_username("");
                let _ = shown.set_password(None);
                shown.set_query(None);
                shown.set_fragment(None);
                shown.as_str().trim_end_matches('/').to_owned()
            }
            Endpoint::Embedded(store) => format!("embedded:{}", normalized(store).display()),
        }
    }

    /// A client for a remote target with another base URL or `Authorization` scheme, for
    /// diagnosing a URL or a token that does not work. `None` for the embedded server.
    pub fn client_with(
        &self,
        base_url: &str,
        auth_scheme: &str,
        allow_insecure_http: bool,
    ) -> Option<Result<ScimClient, ClientError>> {
        let token = self.token.clone()?;
        if self.is_embedded() {
            return None;
        }
        Some(
            ScimClient::new(&Connection {
                base_url: base_url.to_owned(),
                auth_scheme: auth_scheme.to_owned(),
                token,
                allow_insecure_http,
            })
            .map(|client| self.limited(client)),
        )
    }

    /// `client` with the provider's `retry`, `rate_limit` and `limits`.
    fn limited(&self, client: ScimClient) -> ScimClient {
        let mut retry = RetryPolicy::default();
        if let Some(attempts) = self.limits.attempts {
            retry.max_retries = attempts.saturating_sub(1) as usize;
        }
        if let Some(deadline) = self.limits.deadline {
            retry.max_elapsed = deadline;
        }
        let mut read = ReadLimits::default();
        if let Some(bytes) = self.limits.response_bytes {
            read.response_bytes = bytes;
        }
        if let Some(requests) = self.limits.listing_requests {
            read.listing_requests = requests;
        }
        if let Some(time) = self.limits.listing_time {
            read.listing_time = time;
        }
        client
            .with_provider(&self.provider)
            .with_retry(retry)
            .with_rate_limit(self.limits.rate_limit)
            .with_read_limits(read)
    }
}

/// `path` with `.` and `..` components resolved as written, without reading the file system
/// (the store may not exist yet).
fn normalized(path: &std::path::Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() && !out.has_root() {
                    out.push(component);
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// A live connection to one provider's server; holds the embedded server, if any, for as
/// long as it lives.
pub struct Session {
    pub client: ScimClient,
    embedded: Option<EmbeddedServer>,
}

impl Session {
    /// Stops the embedded server, if one was started, after requests in flight finish.
    pub async fn close(mut self) {
        if let Some(server) = self.embedded.take() {
            let _ = server.shutdown().await;
        }
    }
}

/// Runs `body` with a place for the sessions it opens, and closes every one of them once
/// `body` has returned, however it returns: their cleanup is written here, not on each of its
/// return paths. Closing is asynchronous (an embedded server finishes the requests in flight),
/// so it cannot be a `Drop`.
pub async fn with_sessions<T>(body: impl AsyncFnOnce(&mut Vec<Session>) -> T) -> T {
    let mut sessions = Vec::new();
    let result = body(&mut sessions).await;
    for session in sessions {
        session.close().await;
    }
    result
}

/// Why a provider could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("provider `{provider}`: cannot start the embedded server: {source}")]
    Embedded {
        provider: String,
        #[source]
        source: ServerError,
    },
    #[error("provider `{provider}`: {source}")]
    Client {
        provider: String,
        #[source]
        source: ClientError,
    },
}

/// Opens a session to the target's server, starting the embedded server if that is what it
/// names.
pub async fn open(target: &Target, allow_insecure_http: bool) -> Result<Session, ConnectError> {
    let client_error = |source| ConnectError::Client {
        provider: target.provider.clone(),
        source,
    };
    match &target.endpoint {
        Endpoint::Embedded(store) => {
            let embedded = server::spawn_embedded_emulating(store, target.emulate)
                .await
                .map_err(|source| ConnectError::Embedded {
                    provider: target.provider.clone(),
                    source,
                })?;
            let client = ScimClient::new(&Connection {
                base_url: embedded.base_url().to_owned(),
                auth_scheme: "Bearer".to_owned(),
                token: embedded.token().clone(),
                allow_insecure_http: false,
            })
            .map(|client| target.limited(client))
            .map_err(client_error)?;
            Ok(Session {
                client,
                embedded: Some(embedded),
            })
        }
        Endpoint::Http(url) => {
            let client = ScimClient::new(&Connection {
                base_url: url.to_string(),
                auth_scheme: target.auth_scheme.clone(),
                token: target
                    .token
                    .clone()
                    .expect("resolve() refuses an http provider without a token"),
                allow_insecure_http,
            })
            .map(|client| target.limited(client))
            .map_err(client_error)?;
            Ok(Session {
                client,
                embedded: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(endpoint: Endpoint) -> Target {
        Target {
            provider: "corp".to_owned(),
            endpoint,
            auth_scheme: "Bearer".to_owned(),
            token: None,
            limits: RequestLimits::default(),
            emulate: None,
        }
    }

    #[test]
    fn the_server_url_keeps_no_credential() {
        let url =
            |text: &str| target(Endpoint::Http(reqwest::Url::parse(text).unwrap())).server_url();
        assert_eq!(
            url("https://scim:s3cret@Tenant.Example.com:8443/scim/v2/?token=abc#frag"),
            "https://tenant.example.com:8443/scim/v2"
        );
        assert_eq!(
            url("https://tenant.example.com:443/scim/v2"),
            "https://tenant.example.com/scim/v2"
        );
        assert_eq!(
            url("http://127.0.0.1:8080/scim/v2"),
            "http://127.0.0.1:8080/scim/v2"
        );
    }

    #[test]
    fn an_embedded_server_is_named_by_its_store() {
        let embedded = target(Endpoint::Embedded(
            "/srv/config/./x/../.scimform/store".into(),
        ));
        assert_eq!(
            embedded.server_url(),
            "embedded:/srv/config/.scimform/store"
        );
    }
}
