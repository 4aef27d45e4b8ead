//! `scimform import`: read one provider's server completely and write it as config (SPEC §5).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{fail, load_config, pick_provider, print_stdout, report_diagnostics};
use crate::cli::ImportArgs;
use crate::client::Untrusted;
use crate::config::{self, Provider};
use crate::connect::{self, ConnectError};
use crate::import::{self, Imported, ProviderBlock};
use crate::state::{self, HiddenMembers, LiveState, ReadError, Wanted};

/// Why a server could not be read for import.
#[derive(Debug, thiserror::Error)]
enum ImportError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("provider `{provider}`: {source}")]
    Read {
        provider: String,
        #[source]
        source: ReadError,
    },
    #[error(
        "provider `{provider}`: the {kind} listing {check}; an import must hold everything, so \
         none is written (run it again; if it persists, the server's pagination is unreliable)"
    )]
    Incomplete {
        provider: String,
        kind: &'static str,
        check: Untrusted,
    },
    #[error(
        "provider `{provider}`: the members of group `{group}` are not known: {reason}; an \
         import must write every group's true members, so none is written"
    )]
    MembersUnseen {
        provider: String,
        group: String,
        reason: String,
    },
}

pub fn run(args: &ImportArgs) -> ExitCode {
    args.log.init();
    let options = args.config.load_options();
    let config = match load_config(&args.config) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let provider = match pick_provider(&config, args.provider.as_deref(), "import") {
        Ok(provider) => provider,
        Err(code) => return code,
    };
    let target = match connect::resolve(provider, args.config.allow_insecure_http) {
        Ok(target) => target,
        Err(errors) => {
            report_diagnostics(&errors);
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    let live = match runtime.block_on(read_all(provider, &target, args.config.allow_insecure_http))
    {
        Ok(live) => live,
        Err(error) => return fail(error),
    };

    let folder = args.out.as_deref().filter(|out| is_folder(out));
    let out_dir = match (&args.out, folder) {
        (_, Some(folder)) => folder.to_owned(),
        (Some(file), None) => parent(file),
        (None, None) => PathBuf::from("."),
    };
    let block = ProviderBlock::from_config(provider, &out_dir);
    let imported = import::import(&block, &live);
    let mut stderr = std::io::stderr().lock();
    for warning in &imported.warnings {
        let _ = writeln!(stderr, "warning: {}", crate::scrub::scrub(warning));
    }
    drop(stderr);

    // What is written must load, checked before anything is written or printed: a server can
    // hold what the config format rejects (two groups of one name, an email without a dot in
    // its domain), and a folder may hold other config that does not go with the import.
    let planned = planned_files(
        &imported,
        args.out.as_deref(),
        folder,
        &out_dir,
        &args.schema_ref,
    );
    let pending: Vec<config::Pending<'_>> = planned
        .iter()
        .map(|file| config::Pending {
            path: &file.path,
            name: &file.name,
            text: &file.text,
        })
        .collect();
    let target = match &args.out {
        Some(out) => format!("nothing was written to {}", out.display()),
        None => "nothing was printed".to_owned(),
    };
    if let Err(errors) = config::load_pending(&pending, &options) {
        report_diagnostics(&errors.0);
        return fail(format!(
            "{target}: the server holds what a config cannot declare (the errors above name \
             each object and why); fix it on the server, then import again"
        ));
    }
    if let Some(folder) = folder
        && holds_other_config(folder, &planned)
        && let Err(errors) = config::load_with(folder, &pending, &options)
    {
        report_diagnostics(&errors.0);
        return fail(format!(
            "{target}: the folder already holds config files that do not load together with \
             the import; import into an empty folder, or move them away"
        ));
    }

    let Some(out) = &args.out else {
        return print_stdout(&planned[0].text);
    };
    if let Err(e) = write(&planned) {
        return fail(format!("cannot write {}: {e}", out.display()));
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "Imported {} and {} from provider `{}` into {}.",
        count(imported.user_count, "user"),
        count(imported.group_count, "group"),
        provider.name(),
        out.display()
    );
    ExitCode::SUCCESS
}

/// Whether `folder` holds `*.yaml` or `*.yml` entries besides the files the import writes:
/// config the import will be read with.
fn holds_other_config(folder: &Path, planned: &[Planned]) -> bool {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let path = entry.path();
        let is_yaml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        is_yaml && !planned.iter().any(|file| file.path == path)
    })
}

/// One file `import` writes (or prints, for stdout).
struct Planned {
    path: PathBuf,
    /// What errors call it.
    name: String,
    text: String,
}

/// The files of the import: one per concern in a folder, else one file (a file named
/// `<stdout>` in the current folder, for stdout).
fn planned_files(
    imported: &Imported,
    out: Option<&Path>,
    folder: Option<&Path>,
    out_dir: &Path,
    schema_ref: &str,
) -> Vec<Planned> {
    if let Some(folder) = folder {
        return imported
            .folder(schema_ref)
            .into_iter()
            .map(|(name, text)| {
                let path = folder.join(name);
                Planned {
                    name: path.display().to_string(),
                    path,
                    text,
                }
            })
            .collect();
    }
    let (path, name) = match out {
        Some(file) => (file.to_owned(), file.display().to_string()),
        None => (out_dir.join("<stdout>"), "<stdout>".to_owned()),
    };
    vec![Planned {
        path,
        name,
        text: imported.single_file(schema_ref),
    }]
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// An existing folder, or a path written with a trailing `/`.
fn is_folder(out: &Path) -> bool {
    out.is_dir()
        || out
            .as_os_str()
            .to_string_lossy()
            .ends_with(std::path::MAIN_SEPARATOR)
}

fn parent(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Writes the files, each through a temporary file renamed into place once every one is
/// written, so that an interrupted import never leaves half a backup nor a mix of two.
fn write(files: &[Planned]) -> std::io::Result<()> {
    if let Some(folder) = files.first().and_then(|f| f.path.parent())
        && !folder.as_os_str().is_empty()
    {
        std::fs::create_dir_all(folder)?;
    }
    let temporary = |path: &Path| {
        let mut name = path.as_os_str().to_owned();
        name.push(".tmp");
        PathBuf::from(name)
    };
    let written = files
        .iter()
        .try_for_each(|file| std::fs::write(temporary(&file.path), &file.text));
    if let Err(e) = written {
        for file in files {
            let _ = std::fs::remove_file(temporary(&file.path));
        }
        return Err(e);
    }
    for file in files {
        std::fs::rename(temporary(&file.path), &file.path)?;
    }
    Ok(())
}

/// Reads every user and group of the provider's server, members included.
async fn read_all(
    provider: &Provider,
    target: &connect::Target,
    allow_insecure_http: bool,
) -> Result<LiveState, ImportError> {
    let session = connect::open(target, allow_insecure_http).await?;
    let result = read_session(provider, &session.client).await;
    session.close().await;
    result
}

async fn read_session(
    provider: &Provider,
    client: &crate::client::ScimClient,
) -> Result<LiveState, ImportError> {
    let read_error = |source: ReadError| ImportError::Read {
        provider: provider.name().to_owned(),
        source,
    };
    let capabilities = (client.capabilities().await).map_err(|e| read_error(e.into()))?;
    let wanted = Wanted {
        everything: true,
        all_members: true,
        ..Wanted::default()
    };
    let live = state::read(client, &capabilities, &wanted)
        .await
        .map_err(read_error)?;
    let incomplete = |kind, check: &Untrusted| ImportError::Incomplete {
        provider: provider.name().to_owned(),
        kind,
        check: check.clone(),
    };
    if let Some(check) = &live.users_untrusted {
        return Err(incomplete("user", check));
    }
    if let Some(check) = &live.groups_untrusted {
        return Err(incomplete("group", check));
    }
    if let Some(group) = live.groups.iter().find(|g| !g.members_listed) {
        let reason = live
            .hidden_members
            .as_ref()
            .and_then(HiddenMembers::unreadable);
        return Err(ImportError::MembersUnseen {
            provider: provider.name().to_owned(),
            group: group.display_name.clone(),
            reason: reason.unwrap_or(HiddenMembers::BEHAVIOUR).to_owned(),
        });
    }
    if let Some(HiddenMembers::Filtered {
        attribute,
        users,
        requests,
    }) = &live.hidden_members
    {
        let _ = writeln!(
            std::io::stderr().lock(),
            "note: {}; they were read with {requests} requests, one \
             `GET /Groups?filter={attribute} eq \"<user id>\"` for each of {users} users",
            HiddenMembers::BEHAVIOUR
        );
    }
    Ok(live)
}
