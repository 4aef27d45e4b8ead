//! Rendering a [`Plan`] for people and for tools (README, Plans; docs/plan-json.md).
//!
//! The plan is a value; rendering is a pure function of it, so the same plan always reads the
//! same way and every format can be snapshot-tested from a hand-built plan. Three formats:
//!
//! - [`Format::Text`]: Terraform-like, for a terminal. `+` creates, `~` updates with
//!   `old -> new` per attribute, `-` deactivates or deletes; member and role deltas listed one
//!   per line; long and multi-line values as a line diff; the unmanaged objects by name, the
//!   first few of each kind; a summary line with counts and the number of write requests.
//! - [`Format::Markdown`]: for a pull-request comment. A summary table, then the text
//!   rendering of each provider in a collapsible ```` ```diff ````, and its unmanaged objects
//!   in another.
//! - [`Format::Json`]: for tools. The plan document described in `docs/plan-json.md`, which is
//!   also what `plan --out` saves, so one reader serves both.
//!
//! All three say an action with the same word (`create`, `update`, `deactivate`, `delete`),
//! and the text and markdown formats print a provider's warnings (unmanaged users that hold
//! roles, likely renames) before its ops. A plan a guard refuses is rendered by
//! [`render_refused`], in text or markdown only.
//!
//! Nothing here prints a token or an `Authorization` header: a plan holds none, and it names
//! each provider's server by its resolved URL, which holds no user, password or query (or, in
//! a plan saved by an older release, by the URL as written, with any `user:password@` masked).
//! Text that comes from a server (userNames, display names, attribute values) has its control
//! characters escaped, so a hostile value cannot drive the terminal.

mod json;
mod markdown;
mod text;

use std::borrow::Cow;
use std::fmt::Write as _;

use scim::ResourceKind;

use crate::plan::{Plan, ProviderPlan, RenameOutcome, Warning};

pub use json::{JsonPlanError, parse_json, to_json};

/// An output format for `plan --format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// Terraform-like text for a terminal.
    #[default]
    Text,
    /// A summary table and collapsible per-provider diffs, for pull-request comments.
    Markdown,
    /// The versioned JSON plan document (`docs/plan-json.md`).
    Json,
}

/// Renders `plan` in `format`. The result ends with a newline.
///
/// `color` asks for ANSI colours in [`Format::Text`] (green `+`, yellow `~`, red `-`); the
/// other formats never contain escape codes. The caller decides, usually with
/// [`color_for_stdout`]: the output reads the same without them.
#[must_use]
pub fn render(plan: &Plan, format: Format, color: bool) -> String {
    match format {
        Format::Text => text::render(plan, color),
        Format::Markdown => markdown::render(plan),
        Format::Json => {
            let mut out = to_json(plan);
            out.push('\n');
            out
        }
    }
}

/// Renders a plan that a guard refuses (README, Plans), in `format`: the whole plan, so that what
/// the guard refuses is named object by object, and then `refusals`, the reasons. `None` for
/// [`Format::Json`]: a JSON plan is what `apply PLAN` executes, so a refused plan has no JSON
/// form.
#[must_use]
pub fn render_refused(
    plan: &Plan,
    refusals: &[String],
    format: Format,
    color: bool,
) -> Option<String> {
    match format {
        Format::Text => Some(text::render_refused(plan, refusals, color)),
        Format::Markdown => Some(markdown::render_refused(plan, refusals)),
        Format::Json => None,
    }
}

/// A plan displays as its text rendering, without colour: `println!("{plan}")`.
impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&text::render(self, false))
    }
}

/// Whether text written to stdout should be coloured: only on a terminal, and never when
/// `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
#[must_use]
pub fn color_for_stdout() -> bool {
    use std::io::IsTerminal as _;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}

/// The first column of a plan line: what happens to the thing the line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sign {
    Add,
    Change,
    Remove,
    /// An unchanged line shown for context in a line diff.
    Context,
}

/// One line of a rendered provider plan, before it is laid out for a terminal or for a
/// ```` ```diff ```` block: the two differ only in where the sign goes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    /// Spaces before the sign (or before the text, for a line without one).
    indent: usize,
    sign: Option<Sign>,
    text: String,
    /// A trailing note (the HTTP request an op sends), dimmed when coloured.
    note: Option<String>,
}

impl Line {
    fn plain(indent: usize, text: impl Into<String>) -> Self {
        Line {
            indent,
            sign: None,
            text: text.into(),
            note: None,
        }
    }

    fn signed(indent: usize, sign: Sign, text: impl Into<String>) -> Self {
        Line {
            indent,
            sign: Some(sign),
            text: text.into(),
            note: None,
        }
    }
}

/// `n thing` or `n things`.
fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// Control characters escaped (`\u{1b}`), everything else as it is. Tabs are kept.
pub(crate) fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() && c != '\t' {
            let _ = write!(out, "{}", c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Where a provider's server is, fit to show: its resolved URL (scheme, host, path), or the URL
/// as written in the config when the plan does not record it.
fn server_url(provider: &ProviderPlan) -> Cow<'_, str> {
    match &provider.server {
        Some(server) => sanitize(&server.url),
        None => display_url(&provider.url),
    }
}

/// A provider URL fit to show: a `user:password@` part is masked, control characters escaped.
fn display_url(url: &str) -> Cow<'_, str> {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[authority_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => Cow::Owned(format!(
            "{}***{}",
            &url[..authority_start],
            sanitize(&rest[at..])
        )),
        None => sanitize(url),
    }
}

/// What a reviewer must know about how a provider was read and will be written, one sentence
/// each: listings that failed a check, group members read one user at a time, and the plan's
/// own notes (`--bulk` on a server without `/Bulk`). None for most servers.
fn provider_notes(provider: &ProviderPlan) -> Vec<String> {
    let mut notes = Vec::new();
    for listing in &provider.reading.untrusted_listings {
        let kind = listing.resource.as_str();
        notes.push(format!(
            "the {kind} listing failed the check \"{}\": {}; declared {kind}s it does not show \
             were looked up by filter, and nothing is inferred from what it leaves out",
            listing.check,
            sanitize(&listing.detail)
        ));
    }
    if let Some(lookups) = &provider.reading.hidden_members {
        notes.push(lookups.note(&sanitize(&lookups.filter)));
    }
    notes.extend(
        provider
            .notes
            .iter()
            .map(|note| sanitize(note).into_owned()),
    );
    notes
}

/// The summary sentence shared by the text and markdown formats, without a trailing newline.
/// Its counts are by action, in the words of the JSON document's `action` and `summary`.
fn summary_sentence(plan: &Plan) -> String {
    let summary = plan.summary();
    let mut out = if plan.is_empty() {
        "No changes. The directory matches the configuration.".to_owned()
    } else {
        format!(
            "Plan: {} to create, {} to update, {} to deactivate, {} to delete; {}.",
            summary.create,
            summary.update,
            summary.deactivate,
            summary.delete,
            count(summary.requests, "write request", "write requests"),
        )
    };
    let unmanaged = match (summary.unmanaged_users, summary.unmanaged_groups) {
        (0, 0) => None,
        (users, 0) => Some(count(users, "unmanaged user", "unmanaged users")),
        (0, groups) => Some(count(groups, "unmanaged group", "unmanaged groups")),
        (users, groups) => Some(format!(
            "{}, {}",
            count(users, "unmanaged user", "unmanaged users"),
            count(groups, "unmanaged group", "unmanaged groups")
        )),
    };
    if let Some(unmanaged) = unmanaged {
        let _ = write!(out, " {unmanaged} left alone.");
    }
    out
}

/// How many warnings of one provider the text and markdown formats show; JSON holds them all.
const SHOWN_WARNINGS: usize = 20;

/// The warnings of a provider to show, and how many more it has.
fn shown_warnings(provider: &ProviderPlan) -> (&[Warning], usize) {
    let shown = provider.warnings.len().min(SHOWN_WARNINGS);
    (&provider.warnings[..shown], provider.warnings.len() - shown)
}

/// The sentence that ends a list of warnings cut short.
fn more_warnings(hidden: usize) -> String {
    format!(
        "and {} (--format json lists every one)",
        count(hidden, "more warning", "more warnings")
    )
}

/// A warning as the text and markdown formats say it, one sentence naming the objects.
fn warning_sentence(warning: &Warning) -> String {
    match warning {
        Warning::UnmanagedRoles {
            user,
            roles,
            active,
        } => format!(
            "unmanaged user {}{} holds {}, which the plan leaves as it is (prune: false); \
             declare the user to manage its roles, or declare it with absent: true to \
             deprovision it",
            sanitize(user),
            if *active == Some(false) {
                " (inactive)"
            } else {
                ""
            },
            sanitize(&roles.join(", ")),
        ),
        Warning::LikelyRename {
            resource,
            key,
            of,
            because,
            then,
            external_id,
        } => {
            let kind = resource.as_str();
            let (key, of) = (sanitize(key), sanitize(of));
            let gone = match resource {
                ResourceKind::User => "deprovision",
                ResourceKind::Group => "delete",
            };
            let (unmanaged, outcome) = match then {
                RenameOutcome::LeftAlone => (
                    "unmanaged ",
                    format!("{key} is created and {of} left as it is"),
                ),
                RenameOutcome::Replaced => ("", format!("{key} replaces {of}, which is pruned")),
            };
            let hint = match (external_id, then) {
                (Some(id), _) => format!(
                    "declare externalId: {} on {key} to rename {of} in place",
                    serde_json::Value::String(sanitize(id).into_owned())
                ),
                (None, RenameOutcome::LeftAlone) => format!(
                    "declare {of} with absent: true to {gone} it, or give it an externalId and \
                     declare that on {key} to rename it in place"
                ),
                (None, RenameOutcome::Replaced) => format!(
                    "to rename {of} in place instead, give it an externalId and declare that on \
                     {key}"
                ),
            };
            format!(
                "{kind} {key} looks like a rename of {unmanaged}{kind} {of} ({}), but no \
                 externalId ties them: {outcome}; {hint}",
                sanitize(because),
            )
        }
    }
}

/// The lines naming a provider's unmanaged users, then groups: at most `cap` of each kind, then
/// how many more there are, and how many the plan did not read.
fn unmanaged_lines(provider: &ProviderPlan, cap: usize) -> Vec<String> {
    let unmanaged = &provider.unmanaged;
    let mut lines = Vec::new();
    for (kind, plural, total, names) in [
        ("user", "users", unmanaged.users, &unmanaged.user_names),
        ("group", "groups", unmanaged.groups, &unmanaged.group_names),
    ] {
        for name in names.iter().take(cap) {
            lines.push(format!("{kind} {}", sanitize(name)));
        }
        let unlisted = names.len().saturating_sub(cap);
        if unlisted > 0 {
            lines.push(format!(
                "... and {} more {} (--format json lists every one)",
                unlisted,
                if unlisted == 1 { kind } else { plural }
            ));
        }
        let unread = total.saturating_sub(names.len());
        if unread > 0 {
            lines.push(format!(
                "... and {} the plan did not read (it looked the declared {plural} up by filter)",
                count(unread, kind, plural)
            ));
        }
    }
    lines
}

/// What an op line says beyond its action and reason: that it renames its object in place
/// (matched by externalId), or replaces an object that looks like its old self, or is replaced.
fn rename_notes(provider: &ProviderPlan) -> Vec<(ResourceKind, String, String)> {
    let mut notes = Vec::new();
    for warning in &provider.warnings {
        if let Warning::LikelyRename {
            resource,
            key,
            of,
            because,
            then: RenameOutcome::Replaced,
            ..
        } = warning
        {
            notes.push((
                *resource,
                key.to_lowercase(),
                format!("replaces {of}: {because}, no externalId"),
            ));
            notes.push((*resource, of.to_lowercase(), format!("replaced by {key}")));
        }
    }
    notes
}

#[cfg(test)]
mod fixtures;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_credentials_in_urls() {
        assert_eq!(
            display_url("https://scim:s3cret@example.com/scim/v2"),
            "https://***@example.com/scim/v2"
        );
        assert_eq!(
            display_url("https://example.com/scim/v2?x=a@b"),
            "https://example.com/scim/v2?x=a@b"
        );
        assert_eq!(
            display_url("${TONKEAN_URL}/scim/v2"),
            "${TONKEAN_URL}/scim/v2"
        );
        assert_eq!(
            display_url("embedded:.scimform/sandbox"),
            "embedded:.scimform/sandbox"
        );
    }

    #[test]
    fn escapes_control_characters() {
        assert_eq!(sanitize("Ada\u{1b}[2J"), "Ada\\u{1b}[2J");
        assert_eq!(sanitize("a\tb"), "a\tb");
        assert!(matches!(sanitize("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn formats_are_named_for_the_command_line() {
        use clap::ValueEnum as _;
        let names: Vec<_> = Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value().map(|v| v.get_name().to_owned()))
            .collect();
        assert_eq!(names, ["text", "markdown", "json"]);
        assert_eq!(Format::from_str("markdown", true), Ok(Format::Markdown));
    }

    #[test]
    fn a_plan_displays_as_uncoloured_text() {
        let plan = fixtures::two_providers();
        assert_eq!(plan.to_string(), render(&plan, Format::Text, false));
    }

    #[test]
    fn every_format_ends_with_a_newline() {
        for plan in [fixtures::two_providers(), fixtures::empty()] {
            for format in [Format::Text, Format::Markdown, Format::Json] {
                assert!(render(&plan, format, false).ends_with('\n'), "{format:?}");
            }
        }
    }
}
