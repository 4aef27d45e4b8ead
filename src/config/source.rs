//! The files a config was read from, and spans into them.
//!
//! Errors are reported long after parsing (a missing `${VAR}` surfaces when `plan` resolves a
//! provider's URL), so every span names its file through a small [`SourceId`] and the loaded
//! [`Sources`] travel with the validated config.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

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
    /// The digest of what the file says ([`meaning`](super::meaning)), for the config's
    /// digest.
    meaning: String,
    /// The text shown in error snippets: the file's text with secrets masked (see
    /// `redact`), up to where parsing stopped for a file that does not parse. A `String`
    /// rather than a `str` so that a file with nothing to mask shares the text it was read
    /// into instead of copying it.
    display: Arc<String>,
    /// The byte ranges of the file's text that are masked in `display`.
    secrets: Vec<Range<usize>>,
    /// The byte offset where each line of `display` starts, built on first use: errors are
    /// located by a binary search in it rather than by counting lines from the start of the
    /// file, which for thousands of errors in a large file would take quadratic time.
    line_starts: OnceLock<Vec<u32>>,
}

impl SourceFile {
    /// A file read from `path`, shown as `name`, whose errors quote `display`: its `text`
    /// with its `secrets` masked. `meaning` is the digest of what it says.
    #[must_use]
    pub fn new(
        name: String,
        path: PathBuf,
        text: &Arc<String>,
        display: Cow<'_, str>,
        secrets: Vec<Range<usize>>,
        meaning: String,
    ) -> Self {
        let display = match display {
            Cow::Borrowed(shown) if shown.len() == text.len() => Arc::clone(text),
            shown => Arc::new(shown.into_owned()),
        };
        SourceFile {
            name,
            path,
            meaning,
            display,
            secrets,
            line_starts: OnceLock::new(),
        }
    }

    /// Whether `span` holds a secret, whose value an error message must not quote either.
    #[must_use]
    pub fn hides(&self, span: Span) -> bool {
        let (start, end) = (span.start(), span.start() + span.len().max(1));
        self.secrets.iter().any(|r| r.start < end && start < r.end)
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

    /// The text errors quote: the file with any secret masked (README, Secrets in output). For a
    /// valid config, which holds no literal token, this is usually the file's text.
    #[must_use]
    pub fn display_text(&self) -> Arc<String> {
        Arc::clone(&self.display)
    }

    /// Where a scalar's text starts inside its `span`, when the file holds the text verbatim
    /// (plain, or quoted without escapes): then offsets into the text are offsets into the
    /// file.
    pub(crate) fn text_offset(&self, span: Span, text: &str) -> Option<usize> {
        let slice = self.display.get(span.start()..span.start() + span.len())?;
        if slice == text {
            Some(0)
        } else if slice.len() == text.len() + 2 && slice.get(1..=text.len()) == Some(text) {
            Some(1)
        } else {
            None
        }
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
        let offset = offset.min(self.display.len());
        let line = self.line_of(offset);
        let line_start = self.line_starts()[line] as usize;
        let column = self
            .display
            .get(line_start..offset)
            .map_or(offset - line_start, |text| text.chars().count());
        (line + 1, column + 1)
    }

    fn line_starts(&self) -> &[u32] {
        self.line_starts.get_or_init(|| {
            let newlines = self
                .display
                .bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n');
            std::iter::once(0)
                .chain(newlines.map(|(i, _)| (i + 1) as u32))
                .collect()
        })
    }

    /// The 0-based line that holds the byte at `offset`.
    fn line_of(&self, offset: usize) -> usize {
        let starts = self.line_starts();
        starts.partition_point(|&start| start as usize <= offset) - 1
    }

    /// The byte offset where 0-based line `line` starts; the end of the text past the last.
    fn line_start(&self, line: usize) -> usize {
        self.line_starts()
            .get(line)
            .map_or(self.display.len(), |&start| start as usize)
    }
}

/// A file's displayed text as miette reads it for a snippet.
///
/// miette's own `SourceCode` for a string finds the lines of a span by scanning the text from
/// its start, once per label: a file with many errors would be scanned once per error. This
/// one cuts out the few lines around the span with the file's line index, lets miette read
/// them, and moves what it found back to where it is in the file, so snippets are drawn
/// exactly as miette draws them from the whole text.
#[derive(Debug, Clone)]
pub(crate) struct Snippets(pub(crate) Arc<SourceFile>);

impl SourceCode for Snippets {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let file = &self.0;
        let text = file.display.as_str();
        if span.offset() + span.len() > text.len() {
            return Err(MietteError::OutOfBounds);
        }
        // A line more on each side than asked, so that miette's reading of the window is its
        // reading of the whole text.
        let first = file
            .line_of(span.offset())
            .saturating_sub(context_lines_before + 1);
        let last = file.line_of(span.offset() + span.len()) + context_lines_after + 2;
        let (start, end) = (file.line_start(first), file.line_start(last));
        let window = &text.as_bytes()[start..end];
        let local = SourceSpan::new((span.offset() - start).into(), span.len());
        let contents = window.read_span(&local, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new(
            contents.data(),
            SourceSpan::new(
                (contents.span().offset() + start).into(),
                contents.span().len(),
            ),
            first + contents.line(),
            contents.column(),
            first + contents.line_count(),
        )))
    }
}

/// Every file a config was loaded from, indexed by [`SourceId`].
#[derive(Debug, Default, Clone)]
pub struct Sources {
    files: Vec<Arc<SourceFile>>,
}

impl Sources {
    pub fn add(&mut self, file: SourceFile) -> SourceId {
        let id = self.next_id();
        self.files.push(Arc::new(file));
        id
    }

    /// The id the next file added will get: spans into a file are made while it is parsed,
    /// before it is added.
    #[must_use]
    pub fn next_id(&self) -> SourceId {
        SourceId(u32::try_from(self.files.len()).expect("fewer than 2^32 files"))
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

    /// The digest of what each file says ([`meaning`](super::meaning)), by file name, so
    /// that a saved plan can tell that the config changed since it was made, and which file
    /// (README, Saved plans). They are printed in plans, and reveal nothing of the text, masked or
    /// not. A file is named by its file name alone, not by the path it was reached by, so that
    /// `apply PLAN` run from another folder finds the same digests.
    #[must_use]
    pub fn digests(&self) -> BTreeMap<String, String> {
        self.files
            .iter()
            .map(|file| {
                let name = file.path.file_name().unwrap_or(file.path.as_os_str());
                (name.to_string_lossy().into_owned(), file.meaning.clone())
            })
            .collect()
    }

    /// `file:line:column` of the start of a span, as error messages write it.
    #[must_use]
    pub fn location(&self, span: Span) -> String {
        self.get(span.source()).location(span.start())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// miette reads the same snippet from the window `Snippets` cuts out as from the whole
    /// text, for spans anywhere (first and last lines, over several lines, empty, at a line
    /// break, after a multi-byte character) and any number of context lines.
    #[test]
    fn snippets_read_like_the_whole_text() {
        let text = "a: 1\nb:\n  - é: x\n\n  - c: [1, 2]\nd: end\ne: |\n  two\n  lines\nlast";
        let shared = Arc::new(text.to_owned());
        let file = Arc::new(SourceFile::new(
            "f.yaml".into(),
            PathBuf::from("f.yaml"),
            &shared,
            Cow::Borrowed(text),
            Vec::new(),
            String::new(),
        ));
        let snippets = Snippets(Arc::clone(&file));
        for start in 0..=text.len() {
            if !text.is_char_boundary(start) {
                continue;
            }
            for len in [0, 1, 3, 9, 20] {
                if start + len > text.len() || !text.is_char_boundary(start + len) {
                    continue;
                }
                let span = SourceSpan::new(start.into(), len);
                for context in 0..3 {
                    let whole = text.read_span(&span, context, context).unwrap();
                    let window = snippets.read_span(&span, context, context).unwrap();
                    let at = format!("{start}+{len}, {context} lines");
                    assert_eq!(window.data(), whole.data(), "{at}");
                    assert_eq!(window.span(), whole.span(), "{at}");
                    assert_eq!(window.line(), whole.line(), "{at}");
                    assert_eq!(window.column(), whole.column(), "{at}");
                    assert_eq!(window.line_count(), whole.line_count(), "{at}");
                }
            }
        }
    }

    #[test]
    fn line_and_column() {
        let text = Arc::new("ab\néc\n\nx".to_owned());
        let file = SourceFile::new(
            "f".into(),
            PathBuf::from("f"),
            &text,
            Cow::Borrowed(text.as_str()),
            Vec::new(),
            String::new(),
        );
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(2), (1, 3));
        assert_eq!(file.line_col(3), (2, 1));
        assert_eq!(file.line_col(5), (2, 2));
        assert_eq!(file.line_col(7), (3, 1));
        assert_eq!(file.line_col(8), (4, 1));
        assert_eq!(file.line_col(100), (4, 2));
    }
}
