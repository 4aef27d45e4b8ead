//! The Terraform-like text format.
//!
//! ```text
//! tonkean at https://tonkean.example.com/scim/v2: read in 4 requests, 12 users on the server
//!
//!   # create and update users
//!   + user ada@example.com  # POST /Users
//!       + userName: "ada@example.com"
//!       + role SYSTEM_USER
//!   ~ user bob@example.com  # PATCH /Users/2819c223
//!       ~ title: "Analyst" -> "Lead Analyst"
//!       - role PROCESS_CONTRIBUTOR
//!
//!   # deprovision users
//!   - user carol@example.com (deactivate, tombstone)  # PATCH /Users/7d1f0c2e
//!
//!   # unmanaged, left alone
//!     user dave@example.com
//!
//! Plan: 1 to create, 1 to update, 1 to deactivate, 0 to delete; 3 write requests. 1 unmanaged user left alone.
//! ```
//!
//! Ops are listed phase by phase, in the order apply runs them (README, Plans), each with the
//! request it sends, so a reviewer sees the calls and not only the intent. Group members and
//! role sets are shown as the values added and removed, not as two whole lists; a value that
//! spans lines or is too long for one is shown as a line diff. Each op says its action in the
//! words of the JSON document (`create`, `update`, `deactivate`, `delete`), and a rename says
//! so: in place when an externalId matched, or as a replacement when a created object looks
//! like one the plan deprovisions. The unmanaged objects follow the ops, the first
//! [`UNMANAGED_NAMES`] of each kind by name.
//!
//! The lines are built once as [`Line`]s and laid out here for a terminal, or by the markdown
//! format for a ```` ```diff ```` block, where the sign must come first on the line.

use std::collections::HashSet;
use std::fmt::Write as _;

use scim::ResourceKind;
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::{
    Line, Sign, count, more_warnings, provider_notes, rename_notes, sanitize, server_url,
    shown_warnings, summary_sentence, unmanaged_lines, warning_sentence,
};
use crate::plan::{Action, Change, Op, Phase, Plan, ProviderPlan, Reason};

/// How many unmanaged objects of each kind the text format names; JSON names them all.
pub(super) const UNMANAGED_NAMES: usize = 20;

/// Where an op's sign goes.
const OP_INDENT: usize = 2;
/// Where an attribute's sign goes: under the op's name, as Terraform does.
const ATTRIBUTE_INDENT: usize = 6;
/// Where a line diff's signs go: under the attribute's name.
const DIFF_INDENT: usize = 10;
/// Values longer than this (both sides of a change together) are shown as a line diff.
const INLINE_WIDTH: usize = 80;
/// Unchanged lines shown around each change in a line diff.
const DIFF_CONTEXT: usize = 3;

const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

pub(super) fn render(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    for provider in &plan.providers {
        let header = header(provider);
        if color {
            let _ = writeln!(out, "{BOLD}{header}{RESET}");
        } else {
            let _ = writeln!(out, "{header}");
        }
        for note in provider_notes(provider) {
            let _ = writeln!(out, "{:OP_INDENT$}note: {note}", "");
        }
        let (warnings, hidden) = shown_warnings(provider);
        let warnings = warnings.iter().map(warning_sentence);
        for warning in warnings.chain((hidden > 0).then(|| more_warnings(hidden))) {
            if color {
                let _ = writeln!(out, "{:OP_INDENT$}{YELLOW}warning:{RESET} {warning}", "");
            } else {
                let _ = writeln!(out, "{:OP_INDENT$}warning: {warning}", "");
            }
        }
        out.push('\n');
        for line in body(provider).flatten() {
            layout(&mut out, &line, color);
        }
        let unmanaged = unmanaged_lines(provider, UNMANAGED_NAMES);
        if !unmanaged.is_empty() {
            out.push('\n');
            layout(
                &mut out,
                &Line::plain(OP_INDENT, "# unmanaged, left alone"),
                color,
            );
            for line in unmanaged {
                layout(&mut out, &Line::plain(ATTRIBUTE_INDENT - 2, line), color);
            }
        }
        out.push('\n');
    }
    let summary = summary_sentence(plan);
    if color {
        let _ = writeln!(out, "{BOLD}{summary}{RESET}");
    } else {
        let _ = writeln!(out, "{summary}");
    }
    out
}

/// The plan, then why it is refused and that nothing can be applied from it.
pub(super) fn render_refused(plan: &Plan, refusals: &[String], color: bool) -> String {
    let mut out = render(plan, color);
    for refusal in refusals {
        let refusal = sanitize(refusal);
        if color {
            let _ = write!(out, "\n{BOLD}{RED}Refused:{RESET} {refusal}\n");
        } else {
            let _ = write!(out, "\nRefused: {refusal}\n");
        }
    }
    out.push_str("\nThis plan cannot be applied: it is printed for review only.\n");
    out
}

/// The provider's first line: its name, its server, and what reading it cost.
pub(super) fn header(provider: &ProviderPlan) -> String {
    format!(
        "{} at {}: read in {}, {} on the server",
        sanitize(&provider.provider),
        server_url(provider),
        count(provider.reads, "request", "requests"),
        count(provider.existing_users, "user", "users"),
    )
}

/// The provider's ops, phase by phase, or a line saying there are none: one chunk of lines per
/// op, the first of each phase led by the phase's heading, so a reader that stops early (the
/// markdown format, within a comment's length) pays only for what it shows.
pub(super) fn body(provider: &ProviderPlan) -> impl Iterator<Item = Vec<Line>> + '_ {
    let none = provider
        .ops
        .is_empty()
        .then(|| vec![Line::plain(OP_INDENT, "No changes.")]);
    // Ops come in phase order; sorting (stably) keeps a misordered plan readable anyway.
    let mut ops: Vec<&Op> = provider.ops.iter().collect();
    ops.sort_by_key(|op| op.phase);
    let renames = rename_notes(provider);
    let mut previous = None;
    let chunks = ops.into_iter().map(move |op| {
        let mut lines = Vec::new();
        if previous != Some(op.phase) {
            if previous.is_some() {
                lines.push(Line::plain(0, ""));
            }
            lines.push(Line::plain(
                OP_INDENT,
                format!("# {}", phase_title(op.phase)),
            ));
            previous = Some(op.phase);
        }
        op_lines(op, &renames, &mut lines);
        lines
    });
    none.into_iter().chain(chunks)
}

/// A line for a terminal: indent, sign, text, and the note dimmed.
fn layout(out: &mut String, line: &Line, color: bool) {
    let text = sanitize(&line.text);
    let _ = write!(out, "{:indent$}", "", indent = line.indent);
    if let Some(sign) = line.sign {
        let (symbol, paint) = match sign {
            Sign::Add => ('+', GREEN),
            Sign::Change => ('~', YELLOW),
            Sign::Remove => ('-', RED),
            Sign::Context => (' ', ""),
        };
        if color && !paint.is_empty() {
            let _ = write!(out, "{paint}{symbol}{RESET} ");
        } else {
            let _ = write!(out, "{symbol} ");
        }
    }
    out.push_str(&text);
    if let Some(note) = &line.note {
        let note = sanitize(note);
        if color {
            let _ = write!(out, "  {DIM}# {note}{RESET}");
        } else {
            let _ = write!(out, "  # {note}");
        }
    }
    // A context line of a diff can be empty: no trailing spaces.
    let trimmed = out.trim_end_matches(' ').len();
    out.truncate(trimmed);
    out.push('\n');
}

fn phase_title(phase: Phase) -> &'static str {
    match phase {
        Phase::Users => "create and update users",
        Phase::Groups => "create and update groups, add members",
        Phase::AddMembers => "add members to the groups created",
        Phase::RemoveMembers => "remove members",
        Phase::DeprovisionUsers => "deprovision users",
        Phase::DeleteGroups => "delete groups",
    }
}

/// The lines of one op: its sign, kind and key, then in parentheses what the sign does not
/// say (the action of a removal, the reason, a rename), and the request; then its changes.
/// `renames` are the replacements of [`rename_notes`].
fn op_lines(op: &Op, renames: &[(ResourceKind, String, String)], lines: &mut Vec<Line>) {
    let sign = match op.action {
        Action::Create => Sign::Add,
        Action::Update => Sign::Change,
        Action::Deactivate | Action::Delete => Sign::Remove,
    };
    let kind = op.resource.as_str();
    let mut notes: Vec<String> = Vec::new();
    if matches!(op.action, Action::Deactivate | Action::Delete) {
        notes.push(op.action.as_str().to_owned());
    }
    match op.reason {
        Some(Reason::Tombstone) => notes.push("tombstone".to_owned()),
        Some(Reason::Pruned) => notes.push("pruned".to_owned()),
        None => {}
    }
    if let Some(from) = renamed_from(op) {
        notes.push(format!("rename from {from}, same externalId"));
    }
    let key = op.key.to_lowercase();
    notes.extend(
        (renames.iter())
            .filter(|(resource, of, _)| *resource == op.resource && *of == key)
            .map(|(_, _, note)| note.clone()),
    );
    let mut text = format!("{kind} {}", op.key);
    if !notes.is_empty() {
        let _ = write!(text, " ({})", notes.join(", "));
    }
    lines.push(Line {
        note: Some(format!(
            "{} {}",
            op.request.method.as_str(),
            op.request.path
        )),
        ..Line::signed(OP_INDENT, sign, text)
    });
    for change in &op.changes {
        change_lines(change, lines);
    }
}

/// The old key of an update that renames its object: a userName or displayName that changes
/// other than in case, which only a match by externalId allows (README, Plans).
fn renamed_from(op: &Op) -> Option<&str> {
    if op.action != Action::Update {
        return None;
    }
    let key_attribute = op.resource.key_attribute();
    let change = op.changes.iter().find(|c| c.attribute == key_attribute)?;
    let old = change.old.as_ref()?.as_str()?;
    let new = change.new.as_ref()?.as_str()?;
    (old.to_lowercase() != new.to_lowercase()).then_some(old)
}

fn change_lines(change: &Change, lines: &mut Vec<Line>) {
    if let Some(label) = set_label(&change.attribute)
        && let (Some(old), Some(new)) = (
            string_set(change.old.as_ref()),
            string_set(change.new.as_ref()),
        )
    {
        // Sets: a group can hold thousands of members, so look them up by hash.
        let (old_set, new_set): (HashSet<&str>, HashSet<&str>) =
            (old.iter().copied().collect(), new.iter().copied().collect());
        for added in new.iter().filter(|v| !old_set.contains(*v)) {
            lines.push(Line::signed(
                ATTRIBUTE_INDENT,
                Sign::Add,
                format!("{label} {added}"),
            ));
        }
        for removed in old.iter().filter(|v| !new_set.contains(*v)) {
            lines.push(Line::signed(
                ATTRIBUTE_INDENT,
                Sign::Remove,
                format!("{label} {removed}"),
            ));
        }
        return;
    }
    let attribute = &change.attribute;
    let sign = match (&change.old, &change.new) {
        (None, Some(_)) => Sign::Add,
        (Some(_), None) => Sign::Remove,
        _ => Sign::Change,
    };
    let old = change.old.as_ref().map(inline);
    let new = change.new.as_ref().map(inline);
    let fits = |v: &Option<Option<String>>| {
        v.as_ref()
            .map_or(Some(0), |s| s.as_ref().map(|s| s.chars().count()))
    };
    if let (Some(old_width), Some(new_width)) = (fits(&old), fits(&new))
        && old_width + new_width <= INLINE_WIDTH
    {
        let show = |v: Option<Option<String>>| v.flatten().unwrap_or_else(|| "null".to_owned());
        let text = match sign {
            Sign::Add => format!("{attribute}: {}", show(new)),
            Sign::Remove => format!("{attribute}: {}", show(old)),
            Sign::Change | Sign::Context => {
                format!("{attribute}: {} -> {}", show(old), show(new))
            }
        };
        lines.push(Line::signed(ATTRIBUTE_INDENT, sign, text));
        return;
    }
    lines.push(Line::signed(
        ATTRIBUTE_INDENT,
        sign,
        format!("{attribute}:"),
    ));
    line_diff(
        &block(change.old.as_ref()),
        &block(change.new.as_ref()),
        lines,
    );
}

/// How one value of a set-valued attribute is named: `+ member bob@example.com`,
/// `- role SYSTEM_USER`. Members are `members`; a role set is the attribute the provider's
/// roles live in, by convention `roles` or a name ending in `Roles` such as Tonkean's
/// `urn:scim:tonkean:tonkeanRoles`.
fn set_label(attribute: &str) -> Option<&'static str> {
    let name = attribute.rsplit(':').next().unwrap_or(attribute);
    if name.eq_ignore_ascii_case("members") {
        Some("member")
    } else if name.to_ascii_lowercase().ends_with("roles") {
        Some("role")
    } else {
        None
    }
}

/// The strings of a set-valued side of a change: absent and `null` are the empty set; anything
/// but an array of strings is not a set this renderer can list.
fn string_set(value: Option<&Value>) -> Option<Vec<&str>> {
    match value {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(Value::as_str).collect(),
        Some(_) => None,
    }
}

/// A value on one line, as JSON with spaces after separators, or `None` if it spans lines.
fn inline(value: &Value) -> Option<String> {
    if value.as_str().is_some_and(|s| s.contains('\n')) {
        return None;
    }
    let mut out = String::new();
    write_inline(value, &mut out);
    Some(out)
}

fn write_inline(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_inline(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                write_inline(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A value as the lines a line diff compares: a string as it is, anything else as pretty JSON,
/// an absent value as no lines at all.
fn block(value: Option<&Value>) -> String {
    let mut text = match value {
        None => return String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string()),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// The line diff of two values, with a few unchanged lines around each change and a count of
/// the ones hidden between.
fn line_diff(old: &str, new: &str, lines: &mut Vec<Line>) {
    let diff = TextDiff::from_lines(old, new);
    let total = old.lines().count();
    let mut shown_until = 0;
    let hidden = |n: usize| {
        Line::plain(
            DIFF_INDENT + 2,
            format!(
                "# ({} hidden)",
                count(n, "unchanged line", "unchanged lines")
            ),
        )
    };
    for group in diff.grouped_ops(DIFF_CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        if first.old_range().start > shown_until {
            lines.push(hidden(first.old_range().start - shown_until));
        }
        shown_until = last.old_range().end;
        for op in &group {
            for change in diff.iter_changes(op) {
                let sign = match change.tag() {
                    ChangeTag::Equal => Sign::Context,
                    ChangeTag::Delete => Sign::Remove,
                    ChangeTag::Insert => Sign::Add,
                };
                let text = change.value().trim_end_matches(['\n', '\r']).to_owned();
                lines.push(Line::signed(DIFF_INDENT, sign, text));
            }
        }
    }
    if total > shown_until && shown_until > 0 {
        lines.push(hidden(total - shown_until));
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::*;

    #[test]
    fn two_providers() {
        insta::assert_snapshot!(render(&fixtures::two_providers(), false));
    }

    #[test]
    fn single_update() {
        insta::assert_snapshot!(render(&fixtures::single_update(), false));
    }

    #[test]
    fn empty_plan() {
        insta::assert_snapshot!(render(&fixtures::empty(), false));
    }

    #[test]
    fn unmanaged_objects_are_named_up_to_a_cap_then_counted() {
        let out = render(&fixtures::many_unmanaged(), false);
        let section = &out[out.find("  # unmanaged, left alone\n").expect("a section")..];
        let names: Vec<&str> = section
            .lines()
            .skip(1)
            .take_while(|line| !line.is_empty())
            .collect();
        let mut expected: Vec<String> = (1..=UNMANAGED_NAMES)
            .map(|i| format!("    user user{i:02}@example.com"))
            .collect();
        expected.extend([
            "    ... and 5 more users (--format json lists every one)".to_owned(),
            "    ... and 975 users the plan did not read (it looked the declared users up by \
             filter)"
                .to_owned(),
            "    group Contractors".to_owned(),
            "    group Interns".to_owned(),
        ]);
        assert_eq!(names, expected);
        assert!(
            out.ends_with("No changes. The directory matches the configuration. 1000 unmanaged users, 2 unmanaged groups left alone.\n"),
            "{out}"
        );
    }

    #[test]
    fn a_refused_plan_ends_with_its_refusal() {
        let refusal = "provider `tonkean`: the plan would deprovision 2 of its 12 users".to_owned();
        let out = render_refused(&fixtures::two_providers(), &[refusal], false);
        assert!(out.starts_with(&render(&fixtures::two_providers(), false)));
        assert!(
            out.ends_with(
                "\nRefused: provider `tonkean`: the plan would deprovision 2 of its 12 users\n\n\
                 This plan cannot be applied: it is printed for review only.\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn colour_only_when_asked() {
        let plan = fixtures::two_providers();
        let uncoloured = render(&plan, false);
        assert!(
            !uncoloured.contains('\x1b'),
            "escape code without colour:\n{uncoloured}"
        );
        let coloured = render(&plan, true);
        for code in [GREEN, YELLOW, RED, BOLD, DIM] {
            assert!(coloured.contains(code), "{code:?} missing");
        }
        // Stripping the codes gives back the plain rendering: colour adds nothing to read.
        let stripped = [BOLD, DIM, GREEN, YELLOW, RED, RESET]
            .iter()
            .fold(coloured, |s, code| s.replace(code, ""));
        assert_eq!(stripped, uncoloured);
    }

    #[test]
    fn long_values_hide_far_unchanged_lines() {
        let old = (1..=20).fold(String::new(), |mut s, i| {
            let _ = writeln!(s, "line {i}");
            s
        });
        let new = old.replace("line 10\n", "line ten\n");
        let mut lines = Vec::new();
        line_diff(&old, &new, &mut lines);
        let texts: Vec<_> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "# (6 unchanged lines hidden)",
                "line 7",
                "line 8",
                "line 9",
                "line 10",
                "line ten",
                "line 11",
                "line 12",
                "line 13",
                "# (7 unchanged lines hidden)",
            ]
        );
    }

    #[test]
    fn hostile_values_cannot_reach_the_terminal() {
        let mut plan = fixtures::single_update();
        plan.providers[0].ops[0].key = "bob\u{1b}[2J@example.com".to_owned();
        plan.providers[0].ops[0].changes[0].new = Some(Value::String("x\u{9b}31m".to_owned()));
        let out = render(&plan, false);
        assert!(!out.contains('\x1b') && !out.contains('\u{9b}'), "{out}");
        assert!(out.contains("bob\\u{1b}[2J@example.com"));
    }

    #[test]
    fn unknown_shapes_fall_back_to_values() {
        let change = Change {
            attribute: "members".to_owned(),
            old: Some(serde_json::json!([{"value": "1"}])),
            new: Some(serde_json::json!([{"value": "2"}])),
        };
        let mut lines = Vec::new();
        change_lines(&change, &mut lines);
        assert_eq!(
            lines,
            [Line::signed(
                ATTRIBUTE_INDENT,
                Sign::Change,
                r#"members: [{"value": "1"}] -> [{"value": "2"}]"#
            )]
        );
    }
}
