//! The files a config was read from, and spans into them.
//!
//! Errors are reported long after parsing (a missing `${VAR}` surfaces when `plan` resolves a
//! provider's URL), so every span names its file through a small [`SourceId`] and the loaded
//! [`Sources`] travel with the validated config.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which loaded file a [`Span`] points into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(u32);

impl SourceId {
    #[must_use]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A byte range in one source file. Offsets are 32-bit: a file is at most
/// [`MAX_FILE_BYTES`](super::load::MAX_FILE_BYTES), and every value of a config carries a span,
/// so their size counts.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    source: u32,
    start: u32,
    len: u32,
}

impl Span {
    #[must_use]
    pub fn new(source: SourceId, start: usize, len: usize) -> Self {
        Span {
            source: source.0,
            start: offset(start),
            len: offset(len),
        }
    }

    #[must_use]
    pub fn source(self) -> SourceId {
        SourceId(self.source)
    }

    #[must_use]
    pub fn start(self) -> usize {
        self.start as usize
    }

    #[must_use]
    pub fn len(self) -> usize {
        self.len as usize
    }

    #[must_use]
    pub fn is_empty(self) -> bool {
        self.len == 0
    }

    /// The span as one integer, for handing it through serde; [`Span::unpack`] reverses it.
    #[must_use]
    pub(crate) fn pack(self) -> u128 {
        (u128::from(self.source) << 64) | (u128::from(self.start) << 32) | u128::from(self.len)
    }

    /// The span that [`Span::pack`] gave `packed`.
    #[must_use]
    pub(crate) fn unpack(packed: u128) -> Span {
        let part = |shift: u32| u32::try_from((packed >> shift) & u128::from(u32::MAX));
        Span {
            source: part(64).expect("masked to 32 bits"),
            start: part(32).expect("masked to 32 bits"),
            len: part(0).expect("masked to 32 bits"),
        }
    }

    /// A span covering `len` bytes starting `offset` bytes into this one.
    #[must_use]
    pub fn sub(self, offset: usize, len: usize) -> Span {
        Span {
            start: self.start + self::offset(offset),
            len: self::offset(len),
            ..self
        }
    }
}

fn offset(bytes: usize) -> u32 {
    u32::try_from(bytes).expect("a config file is at most MAX_FILE_BYTES")
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{}..{}",
            self.source,
            self.start,
            self.start + self.len
        )
    }
}

/// One config file as read from disk.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the user wrote it (joined with the folder for folder members): what error
    /// messages show.
    name: String,
    /// Where the file is, for resolving `token_file` and `embedded:` paths relative to it.
    path: PathBuf,
    /// The text shown in error snippets: the file's text with literal tokens masked. A
    /// `String` rather than a `str` so that a file with nothing to mask shares the text it was
    /// read into instead of copying it.
    display: Arc<String>,
}

impl SourceFile {
    #[must_use]
    pub fn new(name: String, path: PathBuf, text: &Arc<String>) -> Self {
        let display = match super::redact::mask_tokens(text) {
            Cow::Borrowed(_) => Arc::clone(text),
            Cow::Owned(masked) => Arc::new(masked),
        };
        SourceFile {
            name,
            path,
            display,
        }
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder relative paths in this file are resolved against.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or_else(|| Path::new("."))
    }

    /// The text errors quote: the file with any literal token masked (§7). For a valid config,
    /// which holds no literal token, this is the file's text, fit for a digest of the config.
    #[must_use]
    pub fn display_text(&self) -> Arc<String> {
        Arc::clone(&self.display)
    }

    /// `file:line:column` of a byte offset, as error messages write it.
    #[must_use]
    pub fn location(&self, offset: usize) -> String {
        let (line, column) = self.line_col(offset);
        format!("{}:{line}:{column}", self.name)
    }

    /// 1-based line and column (in characters) of a byte offset.
    #[must_use]
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let text = &self.display[..offset.min(self.display.len())];
        let line = text.matches('\n').count() + 1;
        let line_start = text.rfind('\n').map_or(0, |i| i + 1);
        (line, text[line_start..].chars().count() + 1)
    }
}

/// Every file a config was loaded from, indexed by [`SourceId`].
#[derive(Debug, Default, Clone)]
pub struct Sources {
    files: Vec<Arc<SourceFile>>,
}

impl Sources {
    pub fn add(&mut self, file: SourceFile) -> SourceId {
        let id = SourceId(u32::try_from(self.files.len()).expect("fewer than 2^32 files"));
        self.files.push(Arc::new(file));
        id
    }

    /// The files in the order they were read.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<SourceFile>> {
        self.files.iter()
    }

    #[must_use]
    pub fn get(&self, id: SourceId) -> &Arc<SourceFile> {
        &self.files[id.index()]
    }

    /// The files, in the order they were read.
    pub fn files(&self) -> impl Iterator<Item = &Arc<SourceFile>> {
        self.files.iter()
    }

    /// `file:line:column` of the start of a span, as error messages write it.
    #[must_use]
    pub fn location(&self, span: Span) -> String {
        self.get(span.source()).location(span.start())
    }
}
