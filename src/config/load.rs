//! Reading config files: one file, or every `*.yaml`/`*.yml` file of a folder
//! (README, Several files), each parsed into a tree of spanned nodes within fixed input budgets
//! (README, Limits).
//!
//! A config is often reviewed in pull requests from people outside the team, so the YAML it
//! reads is treated as untrusted: a file larger than [`MAX_FILE_BYTES`], nesting deeper than
//! [`MAX_DEPTH`], or aliases that expand beyond [`MAX_ALIAS_NODES`] (the "billion laughs"
//! alias bomb) fail fast with an error, before any of it is held in memory.

use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Pending;
use super::diagnostic::{Diagnostic, Errors};
use super::meaning;
use super::node::{Node, Value};
use super::redact::{self, Part, Secrets};
use super::source::{SourceFile, SourceId, Sources, Span};
use super::yaml::{self, YamlError, YamlErrorKind};

/// The largest config file read.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// The most bytes read across the files of a folder.
pub const MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;
/// The most config files read from a folder.
pub const MAX_FILES: usize = 1024;
/// The deepest nesting of mappings and sequences accepted. A config needs about 6.
pub const MAX_DEPTH: usize = 32;
/// The most YAML nodes that aliases (`*name`) may replay across one file.
pub const MAX_ALIAS_NODES: usize = 10_000;
/// The most YAML nodes in one file: room for the 100,000 users and 5,000 groups of
/// docs/benchmarks.md.
pub const MAX_NODES: usize = 4_000_000;

/// The text of one config file, read, not yet parsed nor registered in [`Sources`].
pub(crate) struct Text {
    name: String,
    path: PathBuf,
    /// Shared with the file's [`SourceFile`] as the text its errors quote, when nothing in it
    /// is masked.
    content: Arc<String>,
}

impl Text {
    /// The file's text as read.
    pub(crate) fn content(&self) -> &str {
        &self.content
    }

    /// Parses the file into a node tree that borrows its text, and registers the file in
    /// `sources`: with its secrets masked, before any error can quote it. Errors are collected
    /// into `errors`; a file that fails to parse yields a `Document` with no root, so that the
    /// others are checked.
    pub(crate) fn parse(&self, sources: &mut Sources, errors: &mut Errors) -> Document<'_> {
        let source = sources.next_id();
        let parsed = yaml::parse(&self.content, source);
        let (display, secrets) = match &parsed {
            Ok(Some(root)) => {
                let secrets = Secrets::find(&[Part::Node(root)]).into_ranges();
                (redact::mask(&self.content, &secrets), secrets)
            }
            Ok(None) => (Cow::Borrowed(self.content.as_str()), Vec::new()),
            Err(error) => (shown_before(&self.content, error), error.secrets.clone()),
        };
        let meaning = meaning::digest(parsed.as_ref().ok().and_then(Option::as_ref));
        let file = SourceFile::new(
            self.name.clone(),
            self.path.clone(),
            &self.content,
            display,
            secrets,
            meaning,
        );
        let added = sources.add(file);
        debug_assert_eq!(added, source);
        Document {
            source,
            root: checked(parsed, source, sources, errors),
            // A string holds `$` only if the text does, or an escape (`\x24`) spells it.
            may_hold_references: memchr::memchr2(b'$', b'\\', self.content.as_bytes()).is_some(),
        }
    }
}

/// What errors may quote of a file that does not parse: its text up to the end of the line
/// where parsing stopped (what follows was not read, so its secrets are unknown), with the
/// secrets of what was read masked, and anything after a token key on those lines.
fn shown_before<'t>(text: &'t str, error: &YamlError) -> Cow<'t, str> {
    let stop = (error.start + error.len).min(text.len());
    let end = text[stop..].find('\n').map_or(text.len(), |i| stop + i + 1);
    let shown = redact::mask(&text[..end], &error.secrets);
    match redact::mask_token_lines(&shown) {
        Cow::Borrowed(_) => shown,
        Cow::Owned(masked) => Cow::Owned(masked),
    }
}

/// One parsed file. `root` is `None` when the file could not be parsed.
pub(crate) struct Document<'a> {
    pub(crate) source: SourceId,
    pub(crate) root: Option<Node<'a>>,
    /// Whether a string of the file can hold a `${...}` reference at all: most files of a
    /// large config cannot, and are not searched for one.
    pub(crate) may_hold_references: bool,
}

/// The config files at `path`: the file itself, or the `*.yaml` and `*.yml` entries of a
/// folder, whatever they are (a dangling symlink or a FIFO among them is refused when it is
/// read, never skipped: a lost `users.yaml` must not go unnoticed). A path that cannot be
/// read, or a folder with no or too many config files, is an error.
pub(crate) fn files(path: &Path, errors: &mut Errors) -> Vec<PathBuf> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) => {
            let refusal = FileRefusal::of(path, e);
            errors.push(
                Diagnostic::new(refusal.message(path))
                    .help(refusal.help("pass a config file or a folder of them with -f PATH")),
            );
            return Vec::new();
        }
    };
    if !metadata.is_dir() {
        return vec![path.to_owned()];
    }
    match folder_files(path) {
        Ok(files) if files.is_empty() => {
            errors.push(
                Diagnostic::new(format!(
                    "the folder {} holds no *.yaml or *.yml file",
                    path.display()
                ))
                .help("pass a config file, or a folder that holds config files, with -f PATH"),
            );
            Vec::new()
        }
        Ok(files) if files.len() > MAX_FILES => {
            errors.push(
                Diagnostic::new(format!(
                    "the folder {} holds {} config files, more than the {MAX_FILES} scimform reads",
                    path.display(),
                    files.len()
                ))
                .help("merge small files; a file may hold up to 16 MiB"),
            );
            Vec::new()
        }
        Ok(files) => files,
        Err(e) => {
            errors.push(Diagnostic::new(format!(
                "cannot list the folder {}: {e}",
                path.display()
            )));
            Vec::new()
        }
    }
}

/// [`files`], for the config `path` will be once the `pending` files are written: `path`
/// itself when it is one of them, else the files of the folder `path` (when there is one) and
/// the pending files in it, in name order.
pub(crate) fn files_with(
    path: &Path,
    pending: &[Pending<'_>],
    errors: &mut Errors,
) -> Vec<PathBuf> {
    if pending.is_empty() {
        return files(path, errors);
    }
    if pending.iter().any(|p| p.path == path) {
        return vec![path.to_owned()];
    }
    let mut files = if path.is_dir() {
        files(path, errors)
    } else {
        Vec::new()
    };
    files.extend(
        pending
            .iter()
            .filter(|p| p.path.parent() == Some(path))
            .map(|p| p.path.to_owned()),
    );
    files.sort();
    files.dedup();
    files
}

/// Why a file that must be a regular file is not read. Its messages name the file and what
/// it is, never anything it holds.
#[derive(Debug)]
pub(crate) enum FileRefusal {
    /// A symlink to nothing.
    DanglingLink(PathBuf),
    /// A symlink that leads back to itself.
    LinkLoop,
    /// A directory, FIFO, socket or device, described.
    NotRegular(&'static str),
    Io(std::io::Error),
}

impl FileRefusal {
    /// Why opening or inspecting `path` failed with `error`.
    pub(crate) fn of(path: &Path, error: std::io::Error) -> Self {
        #[cfg(unix)]
        if error.raw_os_error() == Some(libc::ELOOP) {
            return FileRefusal::LinkLoop;
        }
        if error.kind() == std::io::ErrorKind::NotFound
            && let Ok(target) = std::fs::read_link(path)
        {
            return FileRefusal::DanglingLink(target);
        }
        FileRefusal::Io(error)
    }

    /// `PATH is ...`, or `cannot read PATH: ...`.
    pub(crate) fn message(&self, path: &Path) -> String {
        let path = path.display();
        match self {
            FileRefusal::DanglingLink(target) => format!(
                "{path} is a symlink to {}, which does not exist",
                target.display()
            ),
            FileRefusal::LinkLoop => {
                format!("{path} is a symlink loop: following it leads back to a link")
            }
            FileRefusal::NotRegular(what) => format!("{path} is {what}, not a regular file"),
            FileRefusal::Io(e) => format!("cannot read {path}: {e}"),
        }
    }

    /// What to do about it; `otherwise` for an I/O error.
    pub(crate) fn help(&self, otherwise: &str) -> String {
        match self {
            FileRefusal::DanglingLink(_) => {
                "restore the file the link points to, or remove the link".to_owned()
            }
            FileRefusal::LinkLoop => "point the link at a file, or remove it".to_owned(),
            FileRefusal::NotRegular(_) => {
                "scimform reads only regular files; write the content into a file and name that"
                    .to_owned()
            }
            FileRefusal::Io(_) => otherwise.to_owned(),
        }
    }
}

/// What a file that is not a regular file is, in words.
fn what_is(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading if it is a regular file, following symlinks. A FIFO, device,
/// socket or directory is refused before it is read, so that reading never blocks on a pipe
/// nor runs on without end on a device: it is looked at before it is opened, and opened
/// without blocking (a FIFO put in its place in between is refused all the same, by what the
/// opened file is).
pub(crate) fn open_regular(path: &Path) -> Result<std::fs::File, FileRefusal> {
    let metadata = std::fs::metadata(path).map_err(|e| FileRefusal::of(path, e))?;
    if !metadata.is_file() {
        return Err(FileRefusal::NotRegular(what_is(metadata.file_type())));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| FileRefusal::of(path, e))?;
    let metadata = file.metadata().map_err(FileRefusal::Io)?;
    if !metadata.is_file() {
        return Err(FileRefusal::NotRegular(what_is(metadata.file_type())));
    }
    Ok(file)
}

/// Reads the files of one config one at a time, so that only one file's node tree need be
/// held at once, within the budget of [`MAX_TOTAL_BYTES`] across them.
#[derive(Default)]
pub(crate) struct Reader {
    total: u64,
}

impl Reader {
    /// A file about to be written, within the same bounds as one read.
    pub(crate) fn pending(&mut self, file: &Pending<'_>, errors: &mut Errors) -> Option<Text> {
        let limit = MAX_FILE_BYTES.min(MAX_TOTAL_BYTES - self.total);
        if file.text.len() as u64 > limit {
            errors.push(
                Diagnostic::new(format!(
                    "{} would be larger than {} MiB, the most scimform reads",
                    file.name,
                    limit / (1024 * 1024)
                ))
                .help("split the config across files in a folder"),
            );
            return None;
        }
        self.total += file.text.len() as u64;
        Some(Text {
            name: file.name.to_owned(),
            path: absolute(file.path),
            content: Arc::new(file.text.to_owned()),
        })
    }

    /// Reads `file`; [`Text::parse`] then parses it and registers it. `None` (and the error
    /// in `errors`) when the file cannot be read.
    pub(crate) fn read(&mut self, file: &Path, errors: &mut Errors) -> Option<Text> {
        let text = match read_bounded(file, MAX_TOTAL_BYTES - self.total) {
            Ok(text) => text,
            Err(diagnostic) => {
                errors.push(diagnostic);
                return None;
            }
        };
        self.total += text.len() as u64;
        Some(Text {
            name: file.display().to_string(),
            path: absolute(file),
            content: Arc::new(text),
        })
    }
}

/// The `*.yaml` and `*.yml` entries directly in `dir`, sorted by name.
fn folder_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_yaml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        if is_yaml {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Reads a file of at most [`MAX_FILE_BYTES`] (and `remaining` bytes) as UTF-8.
fn read_bounded(path: &Path, remaining: u64) -> Result<String, Diagnostic> {
    let cannot_read =
        |e: std::io::Error| Diagnostic::new(format!("cannot read {}: {e}", path.display()));
    let limit = MAX_FILE_BYTES.min(remaining);
    let file = open_regular(path).map_err(|refusal| {
        Diagnostic::new(refusal.message(path))
            .help(refusal.help("check the file's permissions, or pass another file with -f"))
    })?;
    // Sized from the metadata, when it is at hand and within the limit, so that the text is
    // read without regrowing the buffer: the buffer is kept for error messages.
    let expected = file
        .metadata()
        .map_or(0, |m| m.len())
        .min(limit.saturating_add(1));
    let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    // Read one byte past the limit to tell "exactly at the limit" from "over it" without
    // trusting the file's metadata, which may change under us.
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > limit {
        return Err(Diagnostic::new(format!(
            "{} is larger than {} MiB, the most scimform reads{}",
            path.display(),
            limit / (1024 * 1024),
            if limit < MAX_FILE_BYTES {
                " (the folder's files add up to more than 64 MiB)"
            } else {
                ""
            }
        ))
        .help("split the config across files in a folder and pass the folder with -f"));
    }
    String::from_utf8(bytes).map_err(|e| {
        Diagnostic::new(format!(
            "{} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
        .help("save the file as UTF-8")
    })
}

/// The tree of one parsed file; on failure records the error and returns `None`.
fn checked<'a>(
    parsed: Result<Option<Node<'a>>, YamlError>,
    source: SourceId,
    sources: &Sources,
    errors: &mut Errors,
) -> Option<Node<'a>> {
    let empty = || {
        Diagnostic::new("the config file is empty")
            .at(sources, Span::new(source, 0, 0), "nothing here")
            .help("start the file with `version: 1`, then declare providers, users, groups and roles (see README.md)")
    };
    match parsed {
        Ok(Some(root)) if root.value == Value::Null => {
            errors.push(empty());
            None
        }
        Ok(Some(root)) => Some(root),
        Ok(None) => {
            errors.push(empty());
            None
        }
        Err(e) => {
            errors.push(yaml_error(e, source, sources));
            None
        }
    }
}

fn yaml_error(error: YamlError, source: SourceId, sources: &Sources) -> Diagnostic {
    let span = Span::new(source, error.start, error.len);
    let (message, label, help) = match error.kind {
        YamlErrorKind::Syntax => (
            format!("invalid YAML: {}", error.message),
            "here",
            "fix the YAML syntax at the marked place (check indentation, quotes and brackets)",
        ),
        YamlErrorKind::Limit => (
            error.message,
            "here",
            "scimform bounds YAML nesting depth and alias expansion to stay safe on untrusted \
             input; write the values out instead of nesting or expanding aliases",
        ),
        YamlErrorKind::DuplicateKey => (
            error.message,
            "second occurrence",
            "keep one of the two; the second would silently override the first",
        ),
        YamlErrorKind::MultipleDocuments => (
            error.message,
            "a second document",
            "remove the `---` separator, or put each document in its own file of a folder",
        ),
        YamlErrorKind::Tag => (
            error.message,
            "a tag",
            "remove the tag; quote a value to make it a string",
        ),
    };
    Diagnostic::new(message).at(sources, span, label).help(help)
}
