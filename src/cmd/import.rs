//! `scimform import`: read one provider's server completely and write it as config
//! (README, Import and disaster recovery).
//!
//! An import never damages a folder. The target is checked before the server is read: a file
//! that exists, or a folder that holds `*.yaml`/`*.yml` files, is refused unless `--force`.
//! What would be written is then loaded by the same loader `validate` uses and planned against
//! the server as it was just read; only a config that loads and plans empty is written, to
//! temporary files renamed into place once all are written.
//!
//! `--force` overwrites the files import writes (the target file, or a folder's
//! `providers.yaml`, `users.yaml`, `groups.yaml` and `roles.yaml`) and nothing else. Any other
//! config in the folder is kept, and since `plan -f DIR` reads it with the import, the folder
//! as a whole must then load and plan empty too, or nothing is written. Deleting config that
//! import did not write is never import's call.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{Error, Threads, block_on, load_config, pick_provider, print_stdout};
use crate::cli::ImportArgs;
use crate::client::{Capabilities, Untrusted};
use crate::config::{self, Config, Provider};
use crate::connect::{self, ConnectError};
use crate::import::{self, FOLDER_FILES, Imported, ProviderBlock};
use crate::make_plan;
use crate::state::{HiddenMembers, LiveState, ReadError, Wanted};
use scim::ResourceKind;

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

pub fn run(args: &ImportArgs) -> Result<(), Error> {
    args.log.init();
    let options = args.config.load_options();
    let config = load_config(&args.config)?;
    let provider = pick_provider(&config, args.provider.as_deref(), "import")?;
    let out = Out::of(args.out.as_deref());
    // The target first: a refusal costs no request, and is never mistaken for the server's
    // fault.
    let existing = out.existing_config().map_err(Error::Message)?;
    if !existing.is_empty() && !args.force {
        return Err(Error::Message(out.refusal(&existing)));
    }
    let target = connect::resolve(provider, args.config.allow_insecure_http)?;
    let (live, capabilities) = block_on(Threads::to_read(target.is_embedded()), async {
        read_all(provider, &target, args.config.allow_insecure_http)
            .await
            .map_err(Error::msg)
    })?;

    let block = ProviderBlock::from_config(provider, &out.dir());
    let imported = import::import(&block, &live);
    let mut stderr = std::io::stderr().lock();
    for warning in &imported.warnings {
        let _ = writeln!(stderr, "warning: {}", crate::scrub::scrub(warning));
    }
    drop(stderr);

    // What is written must load and plan empty, checked before anything is written or
    // printed: a server can hold what the config format rejects (two groups of one name, an
    // email without a dot in its domain), and a folder may hold other config that does not go
    // with the import.
    let planned = planned_files(&imported, &out, &args.schema_ref);
    let pending: Vec<config::Pending<'_>> = planned
        .iter()
        .map(|file| config::Pending {
            path: &file.path,
            name: &file.name,
            text: &file.text,
        })
        .collect();
    check(
        &out,
        &pending,
        &existing,
        &imported,
        provider.name(),
        (&live, &capabilities),
        options,
    )?;

    let Some(path) = &args.out else {
        return print_stdout(&planned[0].text);
    };
    write(&planned).map_err(|e| Error::msg(format!("cannot write {}: {e}", path.display())))?;
    let _ = writeln!(
        std::io::stderr().lock(),
        "Imported {} and {} from provider `{}` into {}.",
        count(imported.user_count, "user"),
        count(imported.group_count, "group"),
        provider.name(),
        path.display()
    );
    Ok(())
}

/// Whether what the import would write loads, and plans empty against the server as `read`;
/// with other config kept in the folder by `--force`, whether the folder as a whole does too.
/// On failure, says why: naming the files in the way, or each object the server holds that a
/// config cannot declare.
fn check(
    out: &Out,
    pending: &[config::Pending<'_>],
    existing: &[PathBuf],
    imported: &Imported,
    provider: &str,
    (live, capabilities): (&LiveState, &Capabilities),
    options: config::LoadOptions,
) -> Result<(), Error> {
    let nothing = out.nothing_done();
    let alone = match config::load_pending(pending, &options) {
        Ok(alone) => alone,
        Err(errors) => {
            return Err(Error::Config {
                diagnostics: errors.0,
                then: Some(format!(
                    "{nothing}: the server holds what a config cannot declare (the errors above \
                     name each object and why); fix it on the server, then import again"
                )),
            });
        }
    };
    let changes = match changes(&alone, provider, live, capabilities) {
        Ok(changes) => changes,
        Err(message) => return Err(Error::msg(format!("{nothing}: {message}"))),
    };
    if !changes.is_empty() {
        if imported.warnings.is_empty() {
            return Err(Error::msg(format!(
                "{nothing}: `plan` on the import would find changes against the server it \
                 was read from: it would {}",
                listed(&changes)
            )));
        }
        // What the warnings above say is left out shows as changes; the person importing
        // was told which, and a backup that leaves them out is still wanted.
        let _ = writeln!(
            std::io::stderr().lock(),
            "warning: because of what is left out, `plan` on the import would {}",
            crate::scrub::scrub(&listed(&changes))
        );
    }
    if let Out::Folder(folder) = &out {
        let kept: Vec<&PathBuf> = existing.iter().filter(|p| !is_import_file(p)).collect();
        if !kept.is_empty() {
            let kept = names(&kept);
            let whole = match config::load_with(folder, pending, &options) {
                Ok(whole) => whole,
                Err(errors) => {
                    return Err(Error::Config {
                        diagnostics: errors.0,
                        then: Some(format!(
                            "{nothing}: the folder already holds {kept}, which import does not \
                             write and --force keeps, and the folder would not load with it \
                             (the errors above say why); move it away, or import into another \
                             folder"
                        )),
                    });
                }
            };
            let with_kept = match self::changes(&whole, provider, live, capabilities) {
                Ok(with_kept) => with_kept,
                Err(message) => return Err(Error::msg(format!("{nothing}: {message}"))),
            };
            let added: Vec<String> = with_kept
                .into_iter()
                .filter(|change| !changes.contains(change))
                .collect();
            if !added.is_empty() {
                return Err(Error::msg(format!(
                    "{nothing}: the folder already holds {kept}, which import does not write \
                     and --force keeps, and with it `plan` on the folder would {}; move it \
                     away, or import into another folder",
                    listed(&added)
                )));
            }
        }
    }
    Ok(())
}

/// Where the import goes.
enum Out {
    Stdout,
    /// One config file.
    File(PathBuf),
    /// A folder that gets one file per concern ([`FOLDER_FILES`]).
    Folder(PathBuf),
}

impl Out {
    /// `-o PATH`: a folder when it is one or is written with a trailing `/`, else a file.
    fn of(out: Option<&Path>) -> Self {
        match out {
            None => Out::Stdout,
            Some(path) if is_folder(path) => Out::Folder(path.to_owned()),
            Some(path) => Out::File(path.to_owned()),
        }
    }

    /// The folder the written config is in, which its relative paths start from.
    fn dir(&self) -> PathBuf {
        match self {
            Out::Stdout => PathBuf::from("."),
            Out::File(file) => parent(file),
            Out::Folder(folder) => folder.clone(),
        }
    }

    /// The config already at the target, which the import would overwrite or be read with:
    /// the target file when it exists, or the folder's `*.yaml` and `*.yml` entries (of any
    /// kind, as `plan -f DIR` reads them), in name order.
    fn existing_config(&self) -> Result<Vec<PathBuf>, String> {
        match self {
            Out::Stdout => Ok(Vec::new()),
            Out::File(file) => Ok(std::fs::symlink_metadata(file)
                .map(|_| vec![file.clone()])
                .unwrap_or_default()),
            Out::Folder(folder) => {
                let entries = match std::fs::read_dir(folder) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => {
                        return Err(format!("cannot list the folder {}: {e}", folder.display()));
                    }
                };
                let mut found: Vec<PathBuf> = entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|path| is_yaml(path))
                    .collect();
                found.sort();
                Ok(found)
            }
        }
    }

    /// Why the import refuses a target that holds `existing` without `--force`.
    fn refusal(&self, existing: &[PathBuf]) -> String {
        let nothing = self.nothing_done();
        match self {
            Out::Stdout => nothing,
            Out::File(file) => format!(
                "{nothing}: {} already exists; pass --force to overwrite it",
                file.display()
            ),
            Out::Folder(folder) => {
                let all = names(&existing.iter().collect::<Vec<_>>());
                let own: Vec<&PathBuf> = existing.iter().filter(|p| is_import_file(p)).collect();
                let kept: Vec<&PathBuf> = existing.iter().filter(|p| !is_import_file(p)).collect();
                let folder = folder.display();
                if kept.is_empty() {
                    return format!(
                        "{nothing}: the folder {folder} already holds {all}; pass --force to \
                         overwrite {}",
                        if own.len() == 1 { "it" } else { "them" }
                    );
                }
                let (is_not, it) = if kept.len() == 1 {
                    ("is not a file", "it")
                } else {
                    ("are not files", "them")
                };
                let kept_note = format!(
                    "{} {is_not} import writes: --force keeps {it}, and writes only if the \
                     folder as a whole loads and plans empty",
                    names(&kept)
                );
                if own.is_empty() {
                    format!(
                        "{nothing}: the folder {folder} already holds {all}; import into an empty \
                         folder, or pass --force to write the import beside it ({kept_note})"
                    )
                } else {
                    format!(
                        "{nothing}: the folder {folder} already holds {all}; pass --force to \
                         overwrite {} ({kept_note}), or import into an empty folder",
                        names(&own)
                    )
                }
            }
        }
    }

    /// The start of every refusal: what was not done.
    fn nothing_done(&self) -> String {
        match self {
            Out::Stdout => "nothing was printed".to_owned(),
            Out::File(path) | Out::Folder(path) => {
                format!("nothing was written to {}", path.display())
            }
        }
    }
}

/// A `*.yaml` or `*.yml` path, as a folder's config files are found.
fn is_yaml(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// One of the files a folder import writes.
fn is_import_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| FOLDER_FILES.iter().any(|own| name == *own))
}

/// File names, as a list: `a.yaml, b.yaml`.
fn names(paths: &[&PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.file_name().unwrap_or(p.as_os_str()).to_string_lossy())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `plan` on `config` would do to provider `name`'s server as `live` holds it, one
/// phrase per operation (`create user ada@example.com`); none when the import round-trips.
/// Planned from the state already read: no request is sent.
fn changes(
    config: &Config,
    name: &str,
    live: &LiveState,
    capabilities: &Capabilities,
) -> Result<Vec<String>, String> {
    let provider = config
        .provider(name)
        .ok_or_else(|| format!("the written config does not declare provider `{name}`"))?;
    let diff = crate::diff::compute(config, provider, live, capabilities)
        .map_err(|refusal| refusal.to_string())?;
    Ok(diff
        .ops
        .iter()
        .map(|op| {
            let resource = match op.resource {
                ResourceKind::User => "user",
                ResourceKind::Group => "group",
            };
            format!("{} {resource} `{}`", op.action.as_str(), op.key)
        })
        .collect())
}

/// `changes` as one phrase, the first few named.
fn listed(changes: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = changes
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if changes.len() > SHOWN {
        let _ = write!(text, " and {} more", changes.len() - SHOWN);
    }
    text
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
fn planned_files(imported: &Imported, out: &Out, schema_ref: &str) -> Vec<Planned> {
    let (path, name) = match out {
        Out::Folder(folder) => {
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
        Out::File(file) => (file.clone(), file.display().to_string()),
        Out::Stdout => (out.dir().join("<stdout>"), "<stdout>".to_owned()),
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

/// Reads every user and group of the provider's server, members included, and what the
/// server says it can do.
async fn read_all(
    provider: &Provider,
    target: &connect::Target,
    allow_insecure_http: bool,
) -> Result<(LiveState, Capabilities), ImportError> {
    let session = connect::open(target, allow_insecure_http).await?;
    let result = read_session(provider, &session.client).await;
    session.close().await;
    result
}

async fn read_session(
    provider: &Provider,
    client: &crate::client::ScimClient,
) -> Result<(LiveState, Capabilities), ImportError> {
    let read_error = |source: ReadError| ImportError::Read {
        provider: provider.name().to_owned(),
        source,
    };
    let advertised = (client.capabilities().await).map_err(|e| read_error(e.into()))?;
    let wanted = Wanted {
        everything: true,
        all_members: true,
        ..Wanted::default()
    };
    let (live, capabilities) = make_plan::read_live(client, provider, advertised, &wanted)
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
    if let Some(lookups) = live
        .hidden_members
        .as_ref()
        .and_then(make_plan::member_lookups)
    {
        let note = lookups.note(&lookups.filter);
        let _ = writeln!(std::io::stderr().lock(), "note: {note}");
    }
    Ok((live, capabilities))
}
