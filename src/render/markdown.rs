//! The markdown format, for a pull-request comment.
//!
//! A heading, a table with one row per provider and its server (and a total row when there are
//! several), the summary sentence, then one collapsed `<details>` block per provider that has changes,
//! holding its text rendering in a ```` ```diff ```` block. GitHub colours a diff line by its
//! first character, so here the sign comes first and the indentation after it, and `~`
//! becomes `!`, which the diff grammar shows as a change. An empty plan is one line, and one
//! more naming the servers. A plan
//! too long for one comment keeps its table and has its diff blocks cut, saying so.

use std::fmt::Write as _;

use super::text::{body, header};
use super::{Line, Sign, count, provider_notes, sanitize, server_url, summary_sentence};
use crate::plan::{Plan, Summary};

/// GitHub refuses comments longer than 65,536 characters; leave room for what a CI job adds.
const COMMENT_LIMIT: usize = 60_000;
/// Room kept, per provider block still to write, for its skeleton and a truncation note.
const BLOCK_RESERVE: usize = 400;

pub(super) fn render(plan: &Plan) -> String {
    render_within(plan, COMMENT_LIMIT)
}

/// The comment, with the diff blocks cut short if the whole would exceed `limit` bytes. The
/// table and the summary always come whole: they are what a reviewer reads first.
fn render_within(plan: &Plan, limit: usize) -> String {
    if plan.is_empty() {
        let mut out = format!("**scimform plan:** {}\n", summary_sentence(plan));
        let servers: Vec<String> = plan
            .providers
            .iter()
            .map(|p| {
                format!(
                    "{} at {}",
                    html_text(&p.provider),
                    html_text(&server_url(p))
                )
            })
            .collect();
        if !servers.is_empty() {
            let _ = writeln!(out, "\nServers read: {}.", servers.join("; "));
        }
        notes(&mut out, plan);
        return out;
    }
    let mut out = String::from("### scimform plan\n\n");
    out.push_str(
        "| provider | server | create | update | deprovision | write requests | unmanaged |\n",
    );
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | --- |\n");
    for provider in &plan.providers {
        row(
            &mut out,
            &table_cell(&provider.provider),
            &table_cell(&server_url(provider)),
            &provider.summary(),
        );
    }
    if plan.providers.len() > 1 {
        row(&mut out, "**total**", "", &plan.summary());
    }
    let _ = writeln!(out, "\n{}", summary_sentence(plan));
    notes(&mut out, plan);
    let changed: Vec<_> = plan
        .providers
        .iter()
        .filter(|p| !p.ops.is_empty())
        .collect();
    for (i, provider) in changed.iter().enumerate() {
        let budget = limit
            .saturating_sub(out.len())
            .saturating_sub(BLOCK_RESERVE * (changed.len() - i));
        let mut diff = header(provider);
        diff.push_str("\n\n");
        let mut shown = 0;
        for chunk in body(provider) {
            let before = diff.len();
            for line in &chunk {
                layout(&mut diff, line);
            }
            if diff.len() > budget {
                diff.truncate(before);
                break;
            }
            shown += 1;
        }
        if shown < provider.ops.len() {
            let _ = writeln!(
                diff,
                "# ... {} not shown: the comment would be too long. Run scimform plan for the \
                 whole plan.",
                count(provider.ops.len() - shown, "more change", "more changes")
            );
        }
        let fence = "`".repeat(longest_backtick_run(&diff).max(2) + 1);
        let _ = write!(
            out,
            "\n<details><summary>{}: {}</summary>\n\n{fence}diff\n{diff}{fence}\n\n</details>\n",
            html_text(&provider.provider),
            count(provider.ops.len(), "change", "changes"),
        );
    }
    out
}

/// Each provider's reading notes, as quoted lines after the summary.
fn notes(out: &mut String, plan: &Plan) {
    for provider in &plan.providers {
        for note in provider_notes(provider) {
            let _ = writeln!(
                out,
                "\n> **note** ({}): {}",
                html_text(&provider.provider),
                html_text(&note)
            );
        }
    }
}

fn row(out: &mut String, name: &str, server: &str, summary: &Summary) {
    let unmanaged = match (summary.unmanaged_users, summary.unmanaged_groups) {
        (0, 0) => "0".to_owned(),
        (users, 0) => count(users, "user", "users"),
        (0, groups) => count(groups, "group", "groups"),
        (users, groups) => format!(
            "{}, {}",
            count(users, "user", "users"),
            count(groups, "group", "groups")
        ),
    };
    let _ = writeln!(
        out,
        "| {name} | {server} | {} | {} | {} | {} | {unmanaged} |",
        summary.create, summary.update, summary.destroy, summary.requests,
    );
}

/// A line for a ```` ```diff ```` block: the sign in the first column, then the indentation.
fn layout(out: &mut String, line: &Line) {
    match line.sign {
        Some(sign) => {
            let symbol = match sign {
                Sign::Add => '+',
                Sign::Change => '!',
                Sign::Remove => '-',
                Sign::Context => ' ',
            };
            let _ = write!(out, "{symbol}{:indent$} ", "", indent = line.indent);
        }
        None => {
            let _ = write!(out, "{:indent$}", "", indent = line.indent);
        }
    }
    out.push_str(&sanitize(&line.text));
    if let Some(note) = &line.note {
        let _ = write!(out, "  # {}", sanitize(note));
    }
    let trimmed = out.trim_end_matches(' ').len();
    out.truncate(trimmed);
    out.push('\n');
}

/// The longest run of backticks in `text`: the fence around it must be longer.
fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Text safe inside HTML: the `<summary>` of a details block.
fn html_text(text: &str) -> String {
    sanitize(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text safe inside a table cell: a `|` would end the cell.
fn table_cell(text: &str) -> String {
    html_text(text).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::*;

    #[test]
    fn two_providers() {
        insta::assert_snapshot!(render(&fixtures::two_providers()));
    }

    #[test]
    fn single_update() {
        insta::assert_snapshot!(render(&fixtures::single_update()));
    }

    #[test]
    fn empty_plan() {
        insta::assert_snapshot!(render(&fixtures::empty()));
    }

    #[test]
    fn long_plans_are_cut_to_fit_a_comment() {
        let plan = fixtures::two_providers();
        let whole = render(&plan);
        let limit = whole.len() / 2;
        let cut = render_within(&plan, limit);
        assert!(cut.len() <= limit, "{} > {limit}", cut.len());
        assert!(cut.contains("more changes not shown"), "{cut}");
        // The table and both providers' blocks are still there, closed.
        assert!(cut.contains("| **total** |"));
        assert_eq!(cut.matches("</details>").count(), 2, "{cut}");
        assert_eq!(cut.matches("```").count(), 4, "{cut}");
    }

    #[test]
    fn how_a_server_was_read_is_noted_only_when_it_took_more_than_listing() {
        use crate::plan::{MemberLookups, UntrustedListing};
        let plain = render(&fixtures::single_update());
        assert!(!plain.contains("note"), "{plain}");
        for mut plan in [fixtures::single_update(), fixtures::empty()] {
            let Some(provider) = plan.providers.first_mut() else {
                continue;
            };
            provider.reading.untrusted_listings.push(UntrustedListing {
                resource: crate::client::ResourceKind::User,
                check: crate::client::ListingCheck::StartIndex,
                detail: "GET /Users?startIndex=101&count=100 answered startIndex 1".to_owned(),
            });
            provider.reading.hidden_members = Some(MemberLookups {
                filter: "members.value".to_owned(),
                users: 40,
                requests: 41,
            });
            let out = render(&plan);
            assert!(
                out.contains("failed the check \"startIndex echoed as asked\": GET /Users?startIndex=101&amp;count=100 answered startIndex 1"),
                "{out}"
            );
            assert!(
                out.contains("read with 41 requests, one GET /Groups?filter=members.value eq \"&lt;user id&gt;\" per user (40 users)"),
                "{out}"
            );
            let text = super::super::text::render(&plan, false);
            assert!(
                text.contains("\n  note: the user listing failed the check"),
                "{text}"
            );
            assert!(
                text.contains("\n  note: the server shows no group members"),
                "{text}"
            );
        }
    }

    #[test]
    fn values_cannot_break_out_of_the_markup() {
        let mut plan = fixtures::single_update();
        plan.providers[0].provider = "a|<b>".to_owned();
        plan.providers[0].ops[0].changes[0].new = Some("```".into());
        let out = render(&plan);
        assert!(out.contains("| a\\|&lt;b&gt; |"), "{out}");
        assert!(
            out.contains("<summary>a|&lt;b&gt;: 1 change</summary>"),
            "{out}"
        );
        assert!(out.contains("````diff\n"), "{out}");
        assert!(!out.contains('\x1b'));
    }
}
