//! Config errors: a message, the text it is about (file, line, column and a caret, drawn by
//! miette), and what to do about it.
//!
//! Errors are values; they are collected, never printed where they are found, and rendered
//! once by the command line (`render`).

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

use super::source::{Snippets, SourceFile, Sources, Span};

/// How many lines apart two spans of one error may be and still share a snippet.
const MAX_SNIPPET_GAP: usize = 6;

/// One problem with a config, pointing into the file it is about.
#[derive(Debug, Clone)]
pub struct Diagnostic(Box<Inner>);

#[derive(Debug, Clone)]
struct Inner {
    message: String,
    help: Option<String>,
    source: Option<NamedSource<Snippets>>,
    /// The file (as its name is shown), line and column the error is about.
    position: Option<(String, usize, usize)>,
    labels: Vec<(Span, String)>,
}

impl Diagnostic {
    /// A problem not tied to any text, such as a folder without config files.
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic(Box::new(Inner {
            message: message.into(),
            help: None,
            source: None,
            position: None,
            labels: Vec::new(),
        }))
    }

    /// Points the error at `span`, with `label` written under it.
    #[must_use]
    pub fn at(self, sources: &Sources, span: Span, label: impl Into<String>) -> Self {
        self.at_in(sources.get(span.source()), span, label)
    }

    /// Like [`Diagnostic::at`], for a span known to point into `file`.
    #[must_use]
    pub fn at_in(mut self, file: &Arc<SourceFile>, span: Span, label: impl Into<String>) -> Self {
        self.0.source = Some(NamedSource::new(file.name(), Snippets(Arc::clone(file))));
        let (line, column) = file.line_col(span.start());
        self.0.position = Some((file.name().to_owned(), line, column));
        self.0.labels.insert(0, (span, label.into()));
        self
    }

    /// Adds a second span the error is about, such as the first declaration of a duplicate.
    #[must_use]
    pub fn also(mut self, sources: &Sources, span: Span, label: impl Into<String>) -> Self {
        let near = self.0.labels.first().is_some_and(|(primary, _)| {
            let file = sources.get(span.source());
            primary.source() == span.source()
                && file
                    .line_col(primary.start())
                    .0
                    .abs_diff(file.line_col(span.start()).0)
                    <= MAX_SNIPPET_GAP
        });
        if near {
            self.0.labels.push((span, label.into()));
        } else {
            // A span in another file, or far away, would make an unreadable snippet; the
            // message names it instead.
            let location = sources.location(span);
            self.0.message = format!("{}\n{} at {location}", self.0.message, label.into());
        }
        self
    }

    /// Says what to do about it.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.0.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The span of the text the error is about, if any.
    #[must_use]
    pub fn span(&self) -> Option<Span> {
        self.0.labels.first().map(|(span, _)| *span)
    }

    /// `file:line:column` of the text the error is about, if any.
    #[must_use]
    pub fn location(&self) -> Option<String> {
        self.position()
            .map(|(file, line, column)| format!("{file}:{line}:{column}"))
    }

    /// What to do about it, if anything is said.
    #[must_use]
    pub fn help_text(&self) -> Option<&str> {
        self.0.help.as_deref()
    }

    /// The file (its name as shown), 1-based line and column the error is about, if any.
    #[must_use]
    pub fn position(&self) -> Option<(&str, usize, usize)> {
        self.0
            .position
            .as_ref()
            .map(|(file, line, column)| (file.as_str(), *line, *column))
    }

    /// The error as JSON: `message`, and `file`, `line`, `column` and `help` where known.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        object.insert("message".into(), self.0.message.clone().into());
        if let Some((file, line, column)) = self.position() {
            object.insert("file".into(), file.into());
            object.insert("line".into(), line.into());
            object.insert("column".into(), column.into());
        }
        if let Some(help) = &self.0.help {
            object.insert("help".into(), help.clone().into());
        }
        serde_json::Value::Object(object)
    }

    /// The error as a GitHub Actions workflow command (`::error file=…,line=…,col=…::…`), which
    /// GitHub shows on the line of the pull request's diff it names. One line, whatever the
    /// message holds.
    #[must_use]
    pub fn to_github_annotation(&self) -> String {
        let mut text = self.0.message.clone();
        if let Some(help) = &self.0.help {
            text.push_str("\nhelp: ");
            text.push_str(help);
        }
        let text = escape_github(&text, false);
        match self.position() {
            Some((file, line, column)) => format!(
                "::error file={},line={line},col={column},title=scimform::{text}",
                escape_github(file, true)
            ),
            None => format!("::error title=scimform::{text}"),
        }
    }
}

/// Escapes `text` for a workflow command: its data (`%`, CR, LF), and for a property value
/// also `:` and `,`.
fn escape_github(text: &str, property: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            ':' if property => out.push_str("%3A"),
            ',' if property => out.push_str("%2C"),
            c => out.push(c),
        }
    }
    out
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0
            .help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.0
            .source
            .as_ref()
            .map(|source| source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.0.source.as_ref()?;
        Some(Box::new(self.0.labels.iter().enumerate().map(
            |(i, (span, label))| {
                let span = (span.start(), span.len());
                if i == 0 {
                    LabeledSpan::new_primary_with_span(Some(label.clone()), span)
                } else {
                    LabeledSpan::new_with_span(Some(label.clone()), span)
                }
            },
        )))
    }
}

/// Every problem found in a config, in file order.
#[derive(Debug, Clone, Default)]
pub struct Errors(pub Vec<Diagnostic>);

impl Errors {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// Orders the errors as a reader meets them: file by file, top to bottom. Errors about no
    /// text in particular come first.
    pub fn sort(&mut self) {
        self.0.sort_by_key(|d| {
            d.0.labels
                .first()
                .map(|(span, _)| (span.source(), span.start()))
        });
    }
}

impl From<Diagnostic> for Errors {
    fn from(diagnostic: Diagnostic) -> Self {
        Errors(vec![diagnostic])
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => match one.location() {
                Some(location) => write!(f, "{location}: {one}"),
                None => write!(f, "{one}"),
            },
            many => write!(f, "{} errors in the config", many.len()),
        }
    }
}

impl std::error::Error for Errors {}

/// How diagnostics are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Colours and unicode box drawing, for a terminal.
    Color,
    /// Unicode box drawing without colour: for pipes, files, `NO_COLOR` and snapshots.
    Plain,
}

/// Renders diagnostics the way `scimform` prints them: each with its snippet and caret, one
/// after the other.
#[must_use]
pub fn render(diagnostics: &[Diagnostic], style: Style) -> String {
    let theme = match style {
        Style::Color => GraphicalTheme::unicode(),
        Style::Plain => GraphicalTheme::unicode_nocolor(),
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false)
        .with_context_lines(1);
    let mut out = String::new();
    for diagnostic in diagnostics {
        handler
            .render_report(&mut out, diagnostic)
            .expect("writing to a String cannot fail");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_github_annotation_is_one_line_and_keeps_a_literal_backslash_n() {
        let diagnostic =
            Diagnostic::new("no file at C:\\new\\users.yaml\nnor 100%").help("check the path");
        assert_eq!(
            diagnostic.to_github_annotation(),
            "::error title=scimform::no file at C:\\new\\users.yaml%0Anor 100%25%0Ahelp: check the path"
        );
    }
}
