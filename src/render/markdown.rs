//! The markdown format, for a pull-request comment.
//!
//! A heading, a table with one row per provider and its server (and a total row when there
//! are several), the summary sentence, the warnings, then one collapsed `<details>` block per
//! provider that has changes, holding its text rendering in a ```` ```diff ```` block, and one
//! per provider that leaves objects unmanaged, naming them. GitHub colours a diff line by its
//! first character, so here the sign comes first and the indentation after it, and `~` becomes
//! `!`, which the diff grammar shows as a change. An empty plan is one line, one more naming
//! the servers, then its warnings and unmanaged objects. A plan too long for one comment keeps
//! its table and has its diff blocks cut, saying so.
//!
//! A plan a guard refuses says so first, with the reason, and shows its changes expanded: the
//! comment is where a reviewer learns what the guard stopped.

use std::fmt::Write as _;

use super::text::{body, header};
use super::{
    Line, Sign, count, more_warnings, provider_notes, sanitize, server_url, shown_warnings,
    summary_sentence, unmanaged_lines, warning_sentence,
};
use crate::plan::{Plan, ProviderPlan, Summary};

/// GitHub refuses comments longer than 65,536 characters; leave room for what a CI job adds.
const COMMENT_LIMIT: usize = 60_000;
/// Room kept, per provider block still to write, for its skeleton and a truncation note.
const BLOCK_RESERVE: usize = 400;
/// How many unmanaged objects of each kind a provider's block names; JSON names them all.
const UNMANAGED_NAMES: usize = 200;
/// The most bytes of names one provider's unmanaged block holds, so that names never crowd
/// the changes out of a comment.
const UNMANAGED_BYTES: usize = COMMENT_LIMIT / 8;

pub(super) fn render(plan: &Plan) -> String {
    render_within(plan, &[], COMMENT_LIMIT)
}

/// The comment for a plan a guard refuses for `refusals`.
pub(super) fn render_refused(plan: &Plan, refusals: &[String]) -> String {
    render_within(plan, refusals, COMMENT_LIMIT)
}

/// The comment, with the diff blocks cut short if the whole would exceed `limit` bytes. The
/// table, the summary and the warnings always come whole: they are what a reviewer reads
/// first.
fn render_within(plan: &Plan, refusals: &[String], limit: usize) -> String {
    let unmanaged: String = plan.providers.iter().map(unmanaged_block).collect();
    if plan.is_empty() && refusals.is_empty() {
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
        warnings(&mut out, plan);
        out.push_str(&unmanaged);
        return out;
    }
    let mut out = if refusals.is_empty() {
        String::from("### scimform plan\n\n")
    } else {
        let mut out = String::from("### scimform plan: refused\n\n");
        for refusal in refusals {
            let _ = writeln!(out, "> **Refused:** {}\n", inline_text(refusal));
        }
        out.push_str(
            "This plan cannot be applied: it is shown for review only, with every change the \
             guard refuses.\n\n",
        );
        out
    };
    out.push_str(
        "| provider | server | create | update | deactivate | delete | write requests | unmanaged |\n",
    );
    out.push_str("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
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
    warnings(&mut out, plan);
    let changed: Vec<_> = plan
        .providers
        .iter()
        .filter(|p| !p.ops.is_empty())
        .collect();
    let open = if refusals.is_empty() { "" } else { " open" };
    for (i, provider) in changed.iter().enumerate() {
        let budget = limit
            .saturating_sub(out.len())
            .saturating_sub(unmanaged.len())
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
            "\n<details{open}><summary>{}: {}</summary>\n\n{fence}diff\n{diff}{fence}\n\n</details>\n",
            html_text(&provider.provider),
            count(provider.ops.len(), "change", "changes"),
        );
    }
    out.push_str(&unmanaged);
    out
}

/// Each provider's warnings, as quoted lines after the summary: the first few, then how many
/// more there are.
fn warnings(out: &mut String, plan: &Plan) {
    for provider in &plan.providers {
        let (shown, hidden) = shown_warnings(provider);
        let sentences = shown.iter().map(warning_sentence);
        for warning in sentences.chain((hidden > 0).then(|| more_warnings(hidden))) {
            let _ = writeln!(
                out,
                "\n> **warning** ({}): {}",
                html_text(&provider.provider),
                inline_text(&warning)
            );
        }
    }
}

/// A collapsed block naming a provider's unmanaged users and groups, one per line; empty when
/// it has none.
fn unmanaged_block(provider: &ProviderPlan) -> String {
    // As many names of each kind as fit, halving until they do: long names mean fewer.
    let mut cap = UNMANAGED_NAMES;
    let mut lines = unmanaged_lines(provider, cap);
    while cap > 10 && lines.iter().map(|line| line.len() + 1).sum::<usize>() > UNMANAGED_BYTES {
        cap /= 2;
        lines = unmanaged_lines(provider, cap);
    }
    if lines.is_empty() {
        return String::new();
    }
    let mut names = lines.join("\n");
    names.push('\n');
    let unmanaged = &provider.unmanaged;
    let what = match (unmanaged.users, unmanaged.groups) {
        (users, 0) => count(users, "unmanaged user", "unmanaged users"),
        (0, groups) => count(groups, "unmanaged group", "unmanaged groups"),
        (users, groups) => format!(
            "{}, {}",
            count(users, "unmanaged user", "unmanaged users"),
            count(groups, "unmanaged group", "unmanaged groups")
        ),
    };
    let fence = "`".repeat(longest_backtick_run(&names).max(2) + 1);
    format!(
        "\n<details><summary>{}: {what}, left alone</summary>\n\n{fence}text\n{names}{fence}\n\n</details>\n",
        html_text(&provider.provider),
    )
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
        "| {name} | {server} | {} | {} | {} | {} | {} | {unmanaged} |",
        summary.create, summary.update, summary.deactivate, summary.delete, summary.requests,
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

/// Text safe in a line of markdown: names from a server cannot make links, emphasis or code
/// of it (backslash escapes), nor HTML.
fn inline_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in html_text(text).chars() {
        if matches!(c, '\\' | '`' | '*' | '[' | ']' | '~') {
            out.push('\\');
        }
        out.push(c);
    }
    out
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
        // What is never cut: all but the diff blocks' lines.
        let mut bare = plan.clone();
        for provider in &mut bare.providers {
            provider.ops.truncate(1);
        }
        let limit = usize::midpoint(whole.len(), render(&bare).len());
        let cut = render_within(&plan, &[], limit);
        assert!(cut.len() <= limit, "{} > {limit}", cut.len());
        assert!(cut.contains("more changes not shown"), "{cut}");
        // The table, the warnings and every block are still there, closed.
        assert!(cut.contains("| **total** |"));
        assert!(cut.contains("> **warning** (sandbox)"), "{cut}");
        assert_eq!(cut.matches("</details>").count(), 3, "{cut}");
        assert_eq!(cut.matches("```").count(), 6, "{cut}");
    }

    #[test]
    fn unmanaged_objects_are_named_in_a_collapsed_block_that_fits_a_comment() {
        let out = render(&fixtures::many_unmanaged());
        let block = &out[out.find("<details>").expect("a block")..];
        assert!(
            block.starts_with(
                "<details><summary>tonkean: 1000 unmanaged users, 2 unmanaged groups, left \
                 alone</summary>"
            ),
            "{out}"
        );
        for i in 1..=25 {
            assert!(
                block.contains(&format!("\nuser user{i:02}@example.com\n")),
                "{out}"
            );
        }
        assert!(block.contains("\ngroup Interns\n"), "{out}");
        assert!(
            block.contains(
                "... and 975 users the plan did not read (it looked the declared users up by \
                 filter)"
            ),
            "{out}"
        );

        // A hundred thousand names: as many as fit, and the count of the others.
        let mut plan = fixtures::many_unmanaged();
        let unmanaged = &mut plan.providers[0].unmanaged;
        unmanaged.users = 100_000;
        unmanaged.user_names = (0..100_000)
            .map(|i| format!("someone.with.a.long.name.{i:06}@example.com"))
            .collect();
        let out = render(&plan);
        assert!(out.len() < COMMENT_LIMIT / 4, "{}", out.len());
        assert!(
            out.contains("\n... and 99900 more users (--format json lists every one)\n"),
            "{out}"
        );
    }

    #[test]
    fn a_refused_plan_says_so_first_and_shows_its_changes() {
        let refusal = "provider `tonkean`: the plan would deprovision 2 of its 12 users".to_owned();
        let out = render_refused(&fixtures::two_providers(), &[refusal]);
        assert!(
            out.starts_with(
                "### scimform plan: refused\n\n> **Refused:** provider \\`tonkean\\`: the plan \
                 would deprovision 2 of its 12 users\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("<details open><summary>tonkean: 8 changes</summary>"),
            "{out}"
        );
        assert!(
            out.contains("-   user mallory@example.com (deactivate, pruned)"),
            "{out}"
        );
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
                resource: scim::ResourceKind::User,
                check: crate::client::ListingCheck::StartIndex,
                detail: "GET /Users?startIndex=101&count=100 answered startIndex 1".to_owned(),
            });
            provider.reading.hidden_members = Some(MemberLookups {
                filter: "members.value".to_owned(),
                users: 40,
                requests: 41,
                memberships: 12,
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
            // Finding no membership at all, the groups are empty, not hidden.
            if let Some(lookups) = &mut plan.providers[0].reading.hidden_members {
                lookups.memberships = 0;
            }
            let text = super::super::text::render(&plan, false);
            assert!(
                text.contains(
                    "\n  note: no group showed a member on GET /Groups or GET /Groups/{id}, nor \
                     did 41 requests, one GET /Groups?filter=members.value eq \"<user id>\" per \
                     user (40 users): the groups hold no members"
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn names_in_warnings_cannot_make_markup() {
        let mut plan = fixtures::empty();
        plan.providers[0].warnings = vec![crate::plan::Warning::UnmanagedRoles {
            user: "[click](https://example.com) <b>*x*</b>`y`".to_owned(),
            roles: vec!["SYSTEM_USER".to_owned()],
            active: None,
        }];
        let out = render(&plan);
        assert!(
            out.contains(
                "unmanaged user \\[click\\](https://example.com) &lt;b&gt;\\*x\\*&lt;/b&gt;\\`y\\` \
                 holds SYSTEM_USER"
            ),
            "{out}"
        );
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
