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

/// A byte range in one source file, packed into one word: every value of a config carries a
/// span, so their size counts. Offsets take [`OFFSET_BITS`] bits each, enough for a file of
/// [`MAX_FILE_BYTES`](super::load::MAX_FILE_BYTES), and the source the remaining
/// [`SOURCE_BITS`], enough for a folder of [`MAX_FILES`](super::load::MAX_FILES).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span(u64);

/// Bits of a [`Span`] for each of its start and length.
const OFFSET_BITS: u32 = 25;
/// Bits of a [`Span`] for its source.
const SOURCE_BITS: u32 = 64 - 2 * OFFSET_BITS;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;

const _: () = assert!(super::load::MAX_FILE_BYTES <= OFFSET_MASK);
const _: () = assert!(super::load::MAX_FILES < 1 << SOURCE_BITS);

impl Span {
    #[must_use]
    pub fn new(source: SourceId, start: usize, len: usize) -> Self {
        Span::from_parts(source.0, offset(start), offset(len))
    }

    fn from_parts(source: u32, start: u64, len: u64) -> Self {
        assert!(
            u64::from(source) < 1 << SOURCE_BITS,
            "a config is at most MAX_FILES files"
        );
        Span((u64::from(source) << (2 * OFFSET_BITS)) | (start << OFFSET_BITS) | len)
    }

    #[must_use]
    pub fn source(self) -> SourceId {
        SourceId((self.0 >> (2 * OFFSET_BITS)) as u32)
    }

    #[must_use]
    pub fn start(self) -> usize {
        ((self.0 >> OFFSET_BITS) & OFFSET_MASK) as usize
    }

    #[must_use]
    pub fn len(self) -> usize {
        (self.0 & OFFSET_MASK) as usize
    }

    #[must_use]
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The span as one integer, for handing it through serde; [`Span::unpack`] reverses it.
    #[must_use]
    pub(crate) fn pack(self) -> u128 {
        u128::from(self.0)
    }

    /// The span that [`Span::pack`] gave `packed`.
    #[must_use]
    pub(crate) fn unpack(packed: u128) -> Span {
        Span(u64::try_from(packed).expect("packed from a span"))
    }

    /// A span covering `len` bytes starting `offset` bytes into this one.
    #[must_use]
    pub fn sub(self, offset: usize, len: usize) -> Span {
        Span::from_parts(
            self.source().0,
            self::offset(self.start() + offset),
            self::offset(len),
        )
    }
}

fn offset(bytes: usize) -> u64 {
    let bytes = bytes as u64;
    assert!(
        bytes <= OFFSET_MASK,
        "a config file is at most MAX_FILE_BYTES"
    );
    bytes
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{}..{}",
            self.source().0,
            self.start(),
            self.start() + self.len()
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

    /// A digest of the files' names and texts, in the order they were read (literal tokens
    /// masked, which a valid config holds none of), so that a saved plan can tell that the
    /// config changed since it was made (SPEC §3.8). A file is named by its file name alone,
    /// not by the path it was reached by, so that `apply PLAN` run from another folder finds
    /// the same digest.
    #[must_use]
    pub fn digest(&self) -> String {
        crate::digest::sha256_hex_of_parts(self.files.iter().flat_map(|file| {
            [
                file.path.file_name().unwrap_or_default().as_encoded_bytes(),
                b"\0",
                file.display.as_bytes(),
                b"\0",
            ]
        }))
    }

    /// `file:line:column` of the start of a span, as error messages write it.
    #[must_use]
    pub fn location(&self, span: Span) -> String {
        self.get(span.source()).location(span.start())
    }
}
