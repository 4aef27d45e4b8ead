//! The embedded SCIM 2.0 service provider (README, The embedded server): `scimform serve`, and the
//! in-process server behind `embedded:PATH` providers.
//!
//! It is a real RFC 7643/7644 server, not a test double: resources live in SQLite and survive
//! `kill -9`; filters, sorting, pagination, projection, PATCH, Bulk, ETags and the integrity rules
//! behave as the RFCs say, so what scimform learns against it holds against other servers. It is a
//! crate of its own that depends on the SCIM vocabulary (`scim`) and not on the engine, so it
//! cannot import it; the engine talks to it over HTTP like to any peer.
//!
//! The modules follow a request inward: [`listen`] (connections: header deadline, connection
//! bound) → [`http`] (routes, limits, content types, SCIM errors) → [`auth`] →
//! [`service`] (one transaction per operation; [`bulk`] runs several) → [`resource`] /
//! [`patch`] / [`query`] (the RFC rules, driven by [`schema`]) → [`store`] (SQLite).
//! [`emulate`] holds what changes when the server answers as a hosted service
//! (`serve --emulate NAME`): small checks the routes and the service call.

pub mod auth;
mod bulk;
mod emulate;
mod error;
pub mod files;
mod filter;
mod http;
pub mod ids;
pub mod listen;
mod patch;
mod query;
pub mod resource;
mod schema;
mod service;
pub mod store;

/// The seeded generator the randomised tests share with scimform's integration tests.
#[cfg(test)]
#[path = "../../../tests/it/support/random.rs"]
mod random;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use scim::profile::Profile;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use error::{ScimError, ServerError};
pub use listen::Limits;

/// A server bound to its address, with its store open, not yet serving.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    state: http::AppState,
    limits: Limits,
}

impl Server {
    /// Opens the store at `store` and binds `addr` (`127.0.0.1:0` picks a free port); the
    /// connections it accepts are bounded by `limits`. With `emulate`, it answers as that
    /// service does, with the deviations from RFC 7644 its profile documents
    /// (`serve --emulate NAME`); with `None`, as the RFCs say.
    pub async fn bind(
        store: &Path,
        addr: &str,
        token: SecretString,
        limits: Limits,
        emulate: Option<&'static Profile>,
    ) -> Result<Self, ServerError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: addr.to_owned(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: addr.to_owned(),
            source,
        })?;
        let base_url = format!("http://{local_addr}/scim/v2");
        let store = store.to_owned();
        let emulation = emulate::Emulation::new(emulate);
        let dir = tokio::task::spawn_blocking(move || {
            service::Directory::open(&store, base_url, emulation)
        })
        .await
        .map_err(|e| ServerError::Serve(std::io::Error::other(e)))??;
        Ok(Self {
            listener,
            local_addr,
            state: http::AppState {
                dir: Arc::new(dir),
                token: Arc::new(token),
            },
            limits,
        })
    }

    /// The address actually bound.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://ADDR/scim/v2`.
    #[must_use]
    pub fn base_url(&self) -> &str {
        self.state.dir.base_url()
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        listen::serve(
            self.listener,
            http::router(self.state),
            self.limits,
            shutdown,
        )
        .await;
        Ok(())
    }
}

/// An in-process server on an ephemeral loopback port (README, The embedded server). Dropping it
/// stops it; [`EmbeddedServer::shutdown`] stops it and waits for requests in flight.
pub struct EmbeddedServer {
    base_url: String,
    token: SecretString,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

impl EmbeddedServer {
    /// `http://127.0.0.1:PORT/scim/v2`.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The token every request must carry (`Authorization: Bearer <token>`).
    #[must_use]
    pub fn token(&self) -> &SecretString {
        &self.token
    }

    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task
                .await
                .map_err(|e| ServerError::Serve(std::io::Error::other(e)))?,
            None => Ok(()),
        }
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the server over the store at `store` (an SQLite file, created with its parent
/// directories if missing) on `127.0.0.1:0` with a fresh random token, serving in the current
/// tokio runtime.
pub async fn spawn_embedded(store: &Path) -> Result<EmbeddedServer, ServerError> {
    spawn_embedded_emulating(store, None).await
}

/// [`spawn_embedded`], answering as the service `emulate` profiles when it is given
/// ([`Server::bind`]).
pub async fn spawn_embedded_emulating(
    store: &Path,
    emulate: Option<&'static Profile>,
) -> Result<EmbeddedServer, ServerError> {
    let token = ids::token()?;
    let server = Server::bind(store, "127.0.0.1:0", token.clone(), Limits::new(), emulate).await?;
    let base_url = server.base_url().to_owned();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Ok(EmbeddedServer {
        base_url,
        token,
        stop: Some(stop),
        task: Some(task),
    })
}

/// A new random token, for `serve` without `--token-file`.
pub fn generate_token() -> Result<SecretString, ServerError> {
    ids::token()
}
