//! `scimform serve`: the embedded SCIM 2.0 server as a process of its own (SPEC §6.1).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use secrecy::{ExposeSecret, SecretString};

use crate::cli::ServeArgs;
use crate::server::{self, ServerError};

pub fn run(args: &ServeArgs) -> ExitCode {
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => super::fail(error),
    }
}

fn serve(args: &ServeArgs) -> Result<(), ServerError> {
    let token = if let Some(path) = &args.token_file {
        read_token(path)?
    } else {
        let token = server::generate_token()?;
        let mut path = args.store.clone().into_os_string();
        path.push(".token");
        let path = PathBuf::from(path);
        write_token(&path, &token)?;
        eprintln!("token written to {}", path.display());
        token
    };
    let runtime = tokio::runtime::Runtime::new().map_err(ServerError::Serve)?;
    runtime.block_on(async {
        let server = server::Server::bind(&args.store, &args.listen, token).await?;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", server.base_url());
        let _ = stdout.flush();
        drop(stdout);
        server.run(shutdown_signal()).await
    })
}

fn read_token(path: &Path) -> Result<SecretString, ServerError> {
    let text = std::fs::read_to_string(path).map_err(|source| ServerError::TokenFile {
        path: path.to_owned(),
        source,
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(ServerError::EmptyToken(path.to_owned()));
    }
    Ok(SecretString::from(token.to_owned()))
}

fn write_token(path: &Path, token: &SecretString) -> Result<(), ServerError> {
    let fail = |source| ServerError::TokenFile {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut file = options.open(path).map_err(fail)?;
        // An existing file keeps its old mode through `open`; narrow it explicitly.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(fail)?;
        writeln!(file, "{}", token.expose_secret()).map_err(fail)?;
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path).map_err(fail)?;
        writeln!(file, "{}", token.expose_secret()).map_err(fail)?;
    }
    Ok(())
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
