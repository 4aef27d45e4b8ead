//! `scimform serve`: the embedded SCIM 2.0 server as a process of its own
//! (README, The embedded server).

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use crate::cli::ServeArgs;
use scim_server::{self as server, ServerError, auth, files};

/// The largest token file read: a token is a line, not a document.
const MAX_TOKEN_FILE: u64 = 4096;

pub fn run(args: &ServeArgs) -> Result<(), super::Error> {
    let token = token(args).map_err(super::Error::msg)?;
    let limits = server::Limits {
        header_timeout: args.header_timeout,
        ..server::Limits::new()
    };
    super::block_on(super::Threads::PerCore, async {
        serve(args, token, limits).await.map_err(super::Error::msg)
    })
}

/// The token clients must send: `--token-file`'s, or a fresh one written beside the store.
fn token(args: &ServeArgs) -> Result<SecretString, ServerError> {
    if let Some(path) = &args.token_file {
        return read_token(path);
    }
    let token = server::generate_token()?;
    let path = files::with_suffix(&args.store, ".token");
    write_token(&path, &token)?;
    eprintln!("token written to {}", path.display());
    Ok(token)
}

async fn serve(
    args: &ServeArgs,
    token: SecretString,
    limits: server::Limits,
) -> Result<(), ServerError> {
    let server =
        server::Server::bind(&args.store, &args.listen, token, limits, args.emulate).await?;
    if let Some(profile) = args.emulate {
        // stderr: stdout carries the base URL alone, which scripts and tests read.
        eprintln!("emulating {}", profile.title);
    }
    if let Some(warning) = exposure_warning(server.local_addr()) {
        eprintln!("{warning}");
    }
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", server.base_url());
    let _ = stdout.flush();
    drop(stdout);
    server.run(shutdown_signal()).await
}

/// What to say when the server listens beyond this machine: it speaks plain HTTP, so the token
/// and the directory cross the network readable by anyone on the path.
fn exposure_warning(addr: SocketAddr) -> Option<String> {
    let ip = addr.ip().to_canonical();
    if ip.is_loopback() {
        return None;
    }
    let reach = if ip.is_unspecified() {
        "every network interface"
    } else {
        "an address other than loopback"
    };
    Some(format!(
        "warning: listening on {addr}, {reach}: the server speaks plain HTTP, so the token and \
         the directory travel unencrypted. Listen on 127.0.0.1, or put a TLS-terminating proxy \
         in front."
    ))
}

/// Reads `--token-file`: a regular file of at most [`MAX_TOKEN_FILE`] bytes, trimmed of
/// surrounding whitespace and a byte-order mark, holding a token strong enough to protect the
/// server ([`auth::weakness`]).
fn read_token(path: &Path) -> Result<SecretString, ServerError> {
    let text = files::read_small(path, MAX_TOKEN_FILE)?;
    let token = text.trim().trim_start_matches('\u{feff}').trim();
    if token.is_empty() {
        return Err(ServerError::EmptyToken(path.to_owned()));
    }
    if let Some(reason) = auth::weakness(token) {
        return Err(ServerError::WeakToken {
            path: path.to_owned(),
            reason,
        });
    }
    Ok(SecretString::from(token.to_owned()))
}

/// Writes a generated token to `path`: mode 0600, never through a symbolic link.
fn write_token(path: &Path, token: &SecretString) -> Result<(), ServerError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        files::create_private_dir_all(parent)?;
    }
    let mut file = files::open_private(path, true)?;
    writeln!(file, "{}", token.expose_secret()).map_err(|source| ServerError::File {
        path: path.to_owned(),
        source,
    })
}

/// Completes on ctrl-c or SIGTERM, so the server drains requests in flight before exiting.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_deadline_defaults_to_the_servers() {
        use clap::Parser as _;
        let cli = crate::cli::Cli::parse_from(["scimform", "serve"]);
        let crate::cli::Command::Serve(args) = cli.command else {
            panic!("serve parses as serve");
        };
        assert_eq!(args.header_timeout, server::listen::HEADER_TIMEOUT);
        assert_eq!(args.emulate, None);
    }

    #[test]
    fn emulate_takes_a_profiles_name() {
        use clap::Parser as _;
        for profile in scim::profile::PROFILES {
            let cli = crate::cli::Cli::parse_from(["scimform", "serve", "--emulate", profile.name]);
            let crate::cli::Command::Serve(args) = cli.command else {
                panic!("serve parses as serve");
            };
            assert_eq!(args.emulate, Some(profile));
        }
        let error = crate::cli::Cli::try_parse_from(["scimform", "serve", "--emulate", "okta"])
            .unwrap_err()
            .to_string();
        for profile in scim::profile::PROFILES {
            assert!(error.contains(profile.name), "{error}");
        }
    }

    #[test]
    fn warns_off_loopback_only() {
        for quiet in ["127.0.0.1:80", "[::1]:80", "[::ffff:127.0.0.1]:80"] {
            assert_eq!(exposure_warning(quiet.parse().unwrap()), None, "{quiet}");
        }
        let all = exposure_warning("0.0.0.0:8080".parse().unwrap()).unwrap();
        assert!(all.contains("every network interface"), "{all}");
        let one = exposure_warning("192.0.2.1:8080".parse().unwrap()).unwrap();
        assert!(one.contains("other than loopback"), "{one}");
    }
}
