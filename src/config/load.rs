//! Reading config files: one file, or every `*.yaml`/`*.yml` file of a folder (§1.1), each
//! parsed into a tree of spanned nodes within fixed input budgets (§7).
//!
//! A config is often reviewed in pull requests from people outside the team, so the YAML it
//! reads is treated as untrusted: a file larger than [`MAX_FILE_BYTES`], nesting deeper than
//! [`MAX_DEPTH`], or aliases that expand beyond [`MAX_ALIAS_NODES`] (the "billion laughs"
//! alias bomb) fail fast with an error, before any of it is held in memory.

use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diagnostic::{Diagnostic, Errors};
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
/// The most YAML nodes in one file: room for §8's 100,000 users and 5,000 groups.
pub const MAX_NODES: usize = 4_000_000;

/// The text of one config file, read, not yet parsed nor registered in [`Sources`].
pub(crate) struct Text {
    name: String,
    path: PathBuf,
    /// Shared with the file's [`SourceFile`], for its digest.
    content: Arc<String>,
}

impl Text {
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
        let file = SourceFile::new(
            self.name.clone(),
            self.path.clone(),
            &self.content,
            display,
            secrets,
        );
        let added = sources.add(file);
        debug_assert_eq!(added, source);
        Document {
            source,
            root: checked(parsed, source, sources, errors),
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
}

/// The config files at `path`: the file itself, or the `*.yaml` and `*.yml` files of a folder.
/// A path that cannot be read, or a folder with no or too many config files, is an error.
pub(crate) fn files(path: &Path, errors: &mut Errors) -> Vec<PathBuf> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) => {
            errors.push(
                Diagnostic::new(format!("cannot read {}: {e}", path.display()))
                    .help("pass a config file or a folder of them with -f PATH"),
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

/// Reads the files of one config one at a time, so that only one file's node tree need be
/// held at once, within the budget of [`MAX_TOTAL_BYTES`] across them.
#[derive(Default)]
pub(crate) struct Reader {
    total: u64,
}

impl Reader {
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

/// The `*.yaml` and `*.yml` files directly in `dir`, sorted by name.
fn folder_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_yaml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        if is_yaml && path.is_file() {
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
    let file = std::fs::File::open(path).map_err(cannot_read)?;
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
