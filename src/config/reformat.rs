//! `scimform fmt`: config files laid out one way, comments and key order kept.
//!
//! The layout is `pretty_yaml`'s (a formatter over a concrete syntax tree, so comments, key
//! order, quoting choices that matter and anchors survive). A formatter must never change what a
//! file says: each result is parsed again and its meaning digest (the one a saved plan records,
//! [`super::meaning`]) compared with the original's; a file whose meaning would change is left
//! as it is and reported.

use std::path::{Path, PathBuf};

use super::diagnostic::{Diagnostic, Errors};
use super::load::{self, Reader};
use super::meaning;
use super::source::SourceId;
use super::yaml;

/// Why a file was not formatted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    /// The file is not YAML that the config reader accepts: where, and the parser's reason.
    #[error("it does not parse as YAML at line {line}, column {column}: {reason}")]
    Unparsable {
        line: usize,
        column: usize,
        reason: String,
    },
    /// The config reader accepts the file, the formatter does not.
    #[error("the formatter cannot read it: {0}")]
    Unformattable(String),
    /// The formatter's output would read differently: left alone.
    #[error("formatting would change what it says; it was left as it is")]
    MeaningChanged,
}

/// The file's text laid out by the formatter, or why it cannot be.
pub fn format(text: &str) -> Result<String, FormatError> {
    let before = yaml::parse(text, SourceId::default()).map_err(|error| {
        // 1-based, the column in characters, as every config error counts them.
        // The parser's offset, down to a character boundary: slicing never panics.
        let end = (0..=error.start.min(text.len()))
            .rev()
            .find(|&at| text.is_char_boundary(at))
            .unwrap_or(0);
        let before = &text[..end];
        let line_start = before.rfind('\n').map_or(0, |at| at + 1);
        FormatError::Unparsable {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            reason: error.message,
        }
    })?;
    let options = pretty_yaml::config::FormatOptions::default();
    let formatted = pretty_yaml::format_text(text, &options)
        .map_err(|error| FormatError::Unformattable(error.to_string()))?;
    let after =
        yaml::parse(&formatted, SourceId::default()).map_err(|_| FormatError::MeaningChanged)?;
    if meaning::digest(before.as_ref()) != meaning::digest(after.as_ref()) {
        return Err(FormatError::MeaningChanged);
    }
    Ok(formatted)
}

/// One config file, and its text laid out, if that differs.
#[derive(Debug)]
pub struct Reformatted {
    pub path: PathBuf,
    /// `None` when the file is laid out already.
    pub text: Option<String>,
}

/// Formats every config file at `path` (a file, or a folder's `*.yaml` and `*.yml`), read
/// within the same bounds as a config load. Every file that cannot be formatted is an error,
/// and then none is returned: a half-formatted folder is not offered.
pub fn reformat_files(path: &Path) -> Result<Vec<Reformatted>, Errors> {
    let mut errors = Errors::default();
    let files = load::files(path, &mut errors);
    let mut reader = Reader::default();
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let Some(text) = reader.read(&file, &mut errors) else {
            continue;
        };
        match format(text.content()) {
            Ok(formatted) => out.push(Reformatted {
                text: (formatted != text.content()).then_some(formatted),
                path: file,
            }),
            Err(error) => errors.push(Diagnostic::new(format!(
                "{} was not formatted: {error}",
                file.display()
            ))),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_changes_and_comments_and_key_order_stay() {
        let text = "version:   1\n# the directory's users\nusers:\n    -   userName:  ada@example.com   # first\n        displayName: Ada\n    - {userName: bob@example.com, active: false}\n";
        let formatted = format(text).unwrap();
        assert_ne!(formatted, text);
        assert!(formatted.contains("# the directory's users"), "{formatted}");
        assert!(formatted.contains("# first"), "{formatted}");
        let ada = formatted.find("ada@example.com").unwrap();
        let display = formatted.find("displayName").unwrap();
        let bob = formatted.find("bob@example.com").unwrap();
        assert!(
            ada < display && display < bob,
            "key and item order kept: {formatted}"
        );
        assert_eq!(
            format(&formatted).unwrap(),
            formatted,
            "formatting is stable"
        );
    }

    #[test]
    fn a_file_that_is_not_yaml_is_not_touched() {
        match format("version: 1\nusers: [unclosed\n") {
            Err(FormatError::Unparsable { line, .. }) => assert!(line >= 2, "{line}"),
            other => panic!("{other:?}"),
        }
    }
}
