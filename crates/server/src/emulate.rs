//! `serve --emulate NAME`: the server answers as a hosted SCIM service does, with the deviations
//! from RFC 7644 its provider profile ([`scim::profile`]) documents, over the same store and the
//! same code paths.
//!
//! A profile is data; this module turns each of its fields into one small check, and the routes
//! and the service call the checks where the rule applies. Without a profile every check is a
//! no-op, so without `--emulate` the server behaves as the RFCs say. Nothing here names a
//! service: what AWS IAM Identity Center or Slack does is read from its profile.
//!
//! Some fields need nothing of the server:
//! - `auth_scheme`: the server accepts `Bearer` and `token` in every mode ([`super::auth`]).
//! - `deprovisioning`: what a service's documentation asks a client to send (DELETE or
//!   `active=false`); both are ordinary requests the server already answers.
//! - `rate_limit`: the server sets no rate limit in any mode.
//! - `group_patch.remove_without_path == true`: the server still refuses a `remove` without a
//!   path, as RFC 7644 §3.5.2.2 says; no service is emulated as accepting more than the RFC.
//! - `members: Hidden { filter }`: the server answers `members eq "<id>"` and
//!   `members.value eq "<id>"` alike, whichever of the two the profile names.

use scim::ResourceKind;
use scim::attribute::{get_ci_in, names};
use scim::patch::Op;
use scim::profile::{Filters, MemberRemoval, Profile};
use serde_json::{Value, json};

use super::error::ScimError;
use super::filter::{self, CompareOp, Filter, PatchPath};
use super::patch::Operation;
use super::query::{FILTER_LIMITS, ListQuery};
use super::schema::{MAX_RESULTS, registry};
use super::service::Body;

/// The service the server emulates, if any.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Emulation(Option<&'static Profile>);

impl Emulation {
    /// Answers as `profile` says, or, with `None`, as the RFCs say.
    #[must_use]
    pub fn new(profile: Option<&'static Profile>) -> Self {
        Self(profile)
    }

    /// A list or search query as the service takes it: a filter only it accepts
    /// (`filters`), `count` cut to its largest page (`paging.max_count`), and its pages asked
    /// for the way it pages (`paging`).
    ///
    /// Where the service offers cursor paging, a `cursor` is turned into the `startIndex` it
    /// stands for, and kept, so that [`Self::list_response`] answers with a `nextCursor`;
    /// elsewhere it is dropped, as a parameter the service does not know. Where the service
    /// takes no `startIndex`, one is refused; a query with neither is answered its first page,
    /// as AWS IAM Identity Center documents for a `ListUsers` without `cursor` (a page without
    /// `nextCursor`, in the RFC 7644 format).
    ///
    /// `filter` is the query's filter, parsed: the server refuses one that does not parse
    /// before it asks the service's rules.
    pub fn check_query(
        self,
        query: &mut ListQuery,
        filter: Option<&Filter>,
    ) -> Result<(), ScimError> {
        let Some(profile) = self.0 else {
            return Ok(());
        };
        if let (Some(text), Some(filter)) = (&query.filter, filter) {
            check_filter(profile, text, filter)?;
        }
        if !profile.paging.index && query.start_index.is_some() {
            return Err(ScimError::invalid_value(format!(
                "{} pages only by cursor (RFC 9865), not by startIndex: ask for the first page \
                 with an empty `cursor` and for each next one with the `nextCursor` of the page \
                 before",
                profile.title
            )));
        }
        match query.cursor.as_deref() {
            Some(cursor) if profile.paging.cursor => {
                let offset = cursor_offset(cursor)?;
                query.start_index =
                    Some(i64::try_from(offset).unwrap_or(i64::MAX).saturating_add(1));
            }
            _ => query.cursor = None,
        }
        // RFC 7644 §3.4.2.4: a service may return fewer results than `count` asks for; its
        // `itemsPerPage` says how many it did.
        let max = i64::try_from(max_results(profile)).unwrap_or(i64::MAX);
        query.count = Some(query.count.map_or(max, |count| count.min(max)));
        Ok(())
    }

    /// `POST /.search` (RFC 7644 §3.4.3), which a service with `filters: EqAnd` does not offer.
    ///
    /// Answered 501 with a SCIM error, not 404: the endpoint is one the RFC defines and this
    /// service leaves out, as it does `/Me`, and a 404 on a POST would read as "no such
    /// resource" to a client that looks for one to retry differently.
    pub fn check_search(self) -> Result<(), ScimError> {
        match self.0 {
            Some(profile) if profile.filters == Filters::EqAnd => Err(ScimError::new(
                501,
                None,
                format!(
                    "{} does not offer POST /.search; list with GET and a filter",
                    profile.title
                ),
            )),
            _ => Ok(()),
        }
    }

    /// `/Bulk` (RFC 7644 §3.7), answered 501 where the service does not offer it (`bulk`).
    pub fn check_bulk(self) -> Result<(), ScimError> {
        match self.0 {
            Some(profile) if !profile.bulk => Err(ScimError::new(
                501,
                None,
                format!("{} does not offer /Bulk", profile.title),
            )),
            _ => Ok(()),
        }
    }

    /// Takes `members` out of a rendered group where the service never shows them
    /// (`members: Hidden`). They are still stored, changed by PATCH and found by a filter.
    pub fn hide_members(self, kind: ResourceKind, resource: &mut Value) {
        if let Some(profile) = self.0
            && profile.members.hidden_filter().is_some()
            && kind == ResourceKind::Group
            && let Value::Object(map) = resource
        {
            map.remove("members");
        }
    }

    /// A validated body about to be created: a group with members where the service creates
    /// groups empty (`group_patch.members_on_create`), then the rules of [`Self::check_body`].
    pub fn check_create(self, kind: ResourceKind, body: &Body) -> Result<(), ScimError> {
        let Some(profile) = self.0 else {
            return Ok(());
        };
        // Validation drops an empty `members`, so a key left means at least one member.
        if kind == ResourceKind::Group
            && !profile.group_patch.members_on_create
            && body.contains_key("members")
        {
            return Err(ScimError::invalid_value(format!(
                "{} does not accept members in POST /Groups: create the group without them, \
                 then add them by PATCH",
                profile.title
            )));
        }
        // A create's members count against the same limit as a PATCH's member changes
        // (AWS IAM Identity Center's CreateGroup takes at most 100).
        let members = (kind == ResourceKind::Group)
            .then(|| body.get("members").and_then(Value::as_array).map(Vec::len))
            .flatten()
            .unwrap_or(0);
        if let Some(most) = profile.group_patch.member_changes_per_request
            && members > most
        {
            return Err(ScimError::invalid_value(format!(
                "{} accepts at most {most} members in POST /Groups, not {members}: add the \
                 rest by PATCH",
                profile.title
            )));
        }
        self.check_body(kind, body)
    }

    /// `PUT /Groups/{id}`, answered 501 where the service changes groups only by PATCH
    /// (`group_put`).
    pub fn check_replace(self, kind: ResourceKind) -> Result<(), ScimError> {
        match self.0 {
            Some(profile) if kind == ResourceKind::Group && !profile.group_put => {
                Err(ScimError::new(
                    501,
                    None,
                    format!(
                        "{} does not offer PUT /Groups/{{id}}; change a group with PATCH",
                        profile.title
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// A validated body about to be stored (POST, PUT, or the result of a PATCH): at most
    /// `max_emails` emails and `max_phone_numbers` phone numbers, and roles only among the
    /// profile's `roles.values`.
    pub fn check_body(self, kind: ResourceKind, body: &Body) -> Result<(), ScimError> {
        let Some(profile) = self.0 else {
            return Ok(());
        };
        if kind != ResourceKind::User {
            return Ok(());
        }
        for (attribute, max) in [
            ("emails", profile.max_emails),
            ("phoneNumbers", profile.max_phone_numbers),
        ] {
            let held = get_ci_in(body, attribute).map_or(0, |v| v.as_array().map_or(1, Vec::len));
            if let Some(max) = max
                && held > max
            {
                return Err(ScimError::invalid_value(format!(
                    "{} holds at most {max} {attribute} per user; this request leaves {held}",
                    profile.title
                )));
            }
        }
        check_roles(profile, kind, body)
    }

    /// A PATCH on a group, before it is applied: the operations and forms the service accepts
    /// (`group_patch`).
    pub fn check_patch(
        self,
        kind: ResourceKind,
        operations: &[Operation],
    ) -> Result<(), ScimError> {
        let Some(profile) = self.0 else {
            return Ok(());
        };
        if kind != ResourceKind::Group {
            return Ok(());
        }
        let rules = &profile.group_patch;
        let mut changes = 0usize;
        for operation in operations {
            if operation.op == Op::Replace && !rules.replace {
                return Err(ScimError::invalid_value(format!(
                    "{} does not accept replace on groups; use add, which sets a single-valued \
                     attribute (RFC 7644 §3.5.2.1)",
                    profile.title
                )));
            }
            if operation.op == Op::Remove && operation.path.is_none() && !rules.remove_without_path
            {
                return Err(ScimError::no_target(format!(
                    "{} does not accept remove without a path",
                    profile.title
                )));
            }
            let path = operation.path.as_deref().map(members_path);
            if operation.op == Op::Remove
                && rules.member_removal == MemberRemoval::ValueList
                && path == Some(MembersPath::Filtered)
            {
                return Err(ScimError::invalid_path(format!(
                    "{} does not remove members by a value filter in the path; send \
                     {{\"op\": \"remove\", \"path\": \"members\", \"value\": [{{\"value\": \
                     \"<id>\"}}]}}",
                    profile.title
                )));
            }
            changes = changes.saturating_add(member_changes(operation, path));
        }
        if let Some(max) = rules.member_changes_per_request
            && changes > max
        {
            return Err(ScimError::invalid_value(format!(
                "{} accepts at most {max} member changes in one PATCH; this one has {changes}: \
                 split it",
                profile.title
            )));
        }
        Ok(())
    }

    /// `/ServiceProviderConfig` (RFC 7643 §5) as the service announces itself: `bulk` and
    /// `filter.maxResults` from the profile; what the profile says nothing of (`sort`, `etag`,
    /// `patch`) as the server's own.
    pub fn service_provider_config(self, config: &mut Value) {
        let Some(profile) = self.0 else {
            return;
        };
        if !profile.bulk {
            config["bulk"] = json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0});
        }
        config["filter"]["maxResults"] = json!(max_results(profile));
        // RFC 9865's `pagination`: which ways of paging the service offers.
        let paging = profile.paging;
        config["pagination"] = json!({
            "cursor": paging.cursor,
            "index": paging.index,
            "defaultPaginationMethod": if paging.index { "index" } else { "cursor" },
            "defaultPageSize": max_results(profile),
            "maxPageSize": max_results(profile),
        });
    }

    /// The `ListResponse` of a query [`Self::check_query`] passed: with a `nextCursor` where
    /// more remain and no `startIndex` when it was asked for by cursor (RFC 9865), as RFC 7644
    /// says otherwise. `start` is the 1-based index of the page's first resource.
    #[must_use]
    pub fn list_response(
        self,
        query: &ListQuery,
        total: usize,
        start: usize,
        resources: &[Value],
    ) -> Value {
        let mut body = scim::message::list_response(total, start, resources);
        if self.0.is_some()
            && query.cursor.is_some()
            && let Value::Object(map) = &mut body
        {
            map.remove(scim::message::START_INDEX);
            let next = (start - 1).saturating_add(resources.len());
            if !resources.is_empty() && next < total {
                map.insert(
                    scim::message::NEXT_CURSOR.to_owned(),
                    Value::String(cursor_at(next)),
                );
            }
        }
        body
    }
}

/// The cursor of the page that starts at 0-based `offset`. A cursor is opaque to clients (RFC
/// 9865): they send back what they were given and never read it. This one is the offset in hex
/// behind a letter, within the characters AWS IAM Identity Center's cursors use; like an offset,
/// it moves when resources before it are created or deleted between pages.
fn cursor_at(offset: usize) -> String {
    format!("o{offset:x}")
}

/// The 0-based offset `cursor` stands for: 0 for the empty cursor, which asks for the first
/// page; 400 `invalidCursor` (RFC 9865) for one this server did not give.
fn cursor_offset(cursor: &str) -> Result<usize, ScimError> {
    if cursor.is_empty() {
        return Ok(0);
    }
    cursor
        .strip_prefix('o')
        .filter(|hex| !hex.is_empty() && hex.len() <= 16)
        .and_then(|hex| usize::from_str_radix(hex, 16).ok())
        .ok_or_else(|| {
            ScimError::new(
                400,
                Some("invalidCursor"),
                format!("{cursor:?} is not a cursor this service gave"),
            )
        })
}

/// The largest page the emulated service answers: its `max_count`, and never more than the
/// server itself returns.
fn max_results(profile: &Profile) -> usize {
    profile.paging.max_count.min(MAX_RESULTS)
}

/// Refuses a filter the service does not accept: with `filters: EqAnd`, anything but `eq`
/// comparisons joined by `and`, written without parentheses or value paths. A value path parses
/// to [`Filter::ValuePath`], which [`eq_and`] refuses; the parser reads grouping parentheses
/// away, so they are looked for in the text's tokens.
fn check_filter(profile: &Profile, text: &str, parsed: &Filter) -> Result<(), ScimError> {
    if profile.filters == Filters::Full {
        return Ok(());
    }
    if eq_and(parsed) && !filter::has_parentheses(text) {
        return Ok(());
    }
    Err(ScimError::new(
        400,
        Some("invalidFilter"),
        format!(
            "{} accepts only `eq` comparisons joined by `and` (no other operator, `or`, `not`, \
             parentheses or value paths), not {text:?}",
            profile.title
        ),
    ))
}

/// Whether a parsed filter is `eq` comparisons joined by `and`.
fn eq_and(filter: &Filter) -> bool {
    match filter {
        Filter::Compare(_, CompareOp::Eq, _) => true,
        Filter::And(left, right) => eq_and(left) && eq_and(right),
        _ => false,
    }
}

/// What a PATCH path says about a group's members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MembersPath {
    /// `members`: the value lists the members.
    Whole,
    /// `members[value eq "<id>"]`: one member, chosen by the filter.
    Filtered,
    /// Another attribute, or a path that does not parse (the PATCH itself then says why).
    Other,
}

fn members_path(path: &str) -> MembersPath {
    let is_members = |attr: &filter::AttrPath| {
        names(&attr.attr, "members")
            && attr
                .urn
                .as_deref()
                .is_none_or(|u| u.eq_ignore_ascii_case(scim::urn::GROUP))
    };
    match filter::parse_patch_path(path, &FILTER_LIMITS) {
        Ok(PatchPath::Attr(attr)) if is_members(&attr) && attr.sub_attr.is_none() => {
            MembersPath::Whole
        }
        Ok(PatchPath::ValuePath { attr, .. }) if is_members(&attr) => MembersPath::Filtered,
        _ => MembersPath::Other,
    }
}

/// How many members one operation adds or removes: the values it lists, or one for a value
/// filter, or for `remove` of `members` with no value (every member at once, counted as one
/// change since how many there are is not known before it runs).
fn member_changes(operation: &Operation, path: Option<MembersPath>) -> usize {
    let listed = |value: Option<&Value>| match value {
        Some(Value::Array(items)) => items.len(),
        _ => 1,
    };
    match path {
        Some(MembersPath::Whole) => listed(operation.value.as_ref()),
        Some(MembersPath::Filtered) => 1,
        Some(MembersPath::Other) => 0,
        None => match &operation.value {
            Some(Value::Object(values)) => get_ci_in(values, "members")
                .or_else(|| {
                    get_ci_in(values, scim::urn::GROUP)
                        .and_then(Value::as_object)
                        .and_then(|core| get_ci_in(core, "members"))
                })
                .map_or(0, |members| listed(Some(members))),
            _ => 0,
        },
    }
}

/// Roles only among those the service accepts (`roles`): in the core User's `roles` (items
/// `{"value": …}`) or in an extension's attribute (items strings, as `tonkeanRoles`). The
/// shape of an item is the schema's to check; this checks its value. For `tonkeanRoles` the
/// schema's closed `canonicalValues` hold the same list, so an emulated Tonkean and the plain
/// server agree.
fn check_roles(profile: &Profile, kind: ResourceKind, body: &Body) -> Result<(), ScimError> {
    let Some(roles) = profile.roles else {
        return Ok(());
    };
    let container = match registry().schema_of(kind, roles.schema) {
        Some(urn) if urn == kind.core_schema() => Some(body),
        Some(urn) => body.get(urn).and_then(Value::as_object),
        // A schema this server does not know: no request can set it, as validation refuses it.
        None => None,
    };
    let Some(held) = container.and_then(|c| get_ci_in(c, roles.attribute)) else {
        return Ok(());
    };
    let items = match held {
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    for item in items {
        let value = match item {
            Value::Object(role) => get_ci_in(role, "value"),
            other => Some(other),
        };
        let Some(value) = value.and_then(Value::as_str) else {
            return Err(ScimError::invalid_value(format!(
                "every value of {} needs a role name",
                roles.attribute
            )));
        };
        if !roles.values.contains(&value) {
            return Err(ScimError::invalid_value(format!(
                "{value:?} is not a role {} accepts in {}; allowed: {}",
                profile.title,
                roles.attribute,
                roles.values.join(", ")
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::validate;
    use crate::service::Directory;
    use scim::profile::{AWS_IDENTITY_CENTER, GITHUB_EMU, PROFILES, SLACK, TONKEAN};
    use scim::urn::{GROUP, USER};

    fn emulating(profile: &'static Profile) -> Emulation {
        Emulation::new(Some(profile))
    }

    fn query(filter: &str) -> ListQuery {
        ListQuery {
            filter: Some(filter.to_owned()),
            ..ListQuery::default()
        }
    }

    /// [`Emulation::check_query`] after the parse that [`Directory::list`] does first.
    fn check(emulation: Emulation, query: &mut ListQuery) -> Result<(), ScimError> {
        let filter = query
            .filter
            .as_deref()
            .map(crate::query::parse_filter)
            .transpose()?;
        emulation.check_query(query, filter.as_ref())
    }

    fn ops(operations: Value) -> Vec<Operation> {
        let mut request = json!({"schemas": [scim::urn::PATCH_OP]});
        request["Operations"] = operations;
        crate::patch::parse(&request).unwrap()
    }

    fn user(input: Value) -> Body {
        let mut input = input;
        input["schemas"] = json!([USER]);
        input["userName"] = json!("ada");
        validate(ResourceKind::User, &input).unwrap()
    }

    #[test]
    fn no_emulation_checks_nothing() {
        let none = Emulation::default();
        let mut q = query("userName co \"a\" or not (x pr)");
        check(none, &mut q).unwrap();
        assert_eq!(q.count, None);
        none.check_search().unwrap();
        none.check_bulk().unwrap();
        none.check_patch(
            ResourceKind::Group,
            &ops(json!([{"op": "replace", "path": "displayName", "value": "x"}])),
        )
        .unwrap();
        let mut group = json!({"members": [{"value": "u"}]});
        none.hide_members(ResourceKind::Group, &mut group);
        assert!(group.get("members").is_some());
    }

    #[test]
    fn eq_and_filters_only() {
        let aws = emulating(&AWS_IDENTITY_CENTER);
        for accepted in [
            r#"userName eq "ada""#,
            r#"id eq "g" and members eq "u""#,
            r#"members.value eq "u""#,
            r#"displayName eq "a (b) [c]""#,
        ] {
            check(aws, &mut query(accepted)).unwrap();
        }
        for refused in [
            r#"userName co "a""#,
            r#"userName eq "a" or userName eq "b""#,
            r#"not (userName eq "a")"#,
            r#"(userName eq "a")"#,
            r#"emails[value eq "a"]"#,
            "title pr",
        ] {
            let e = check(aws, &mut query(refused)).unwrap_err();
            assert_eq!(
                (e.status, e.scim_type),
                (400, Some("invalidFilter")),
                "{refused}"
            );
            assert!(e.detail.contains("only `eq`"), "{}", e.detail);
        }
        check(emulating(&TONKEAN), &mut query(r#"userName co "a""#)).unwrap();
    }

    #[test]
    fn count_is_cut_to_the_largest_page() {
        let aws = emulating(&AWS_IDENTITY_CENTER);
        let max = AWS_IDENTITY_CENTER.paging.max_count;
        let mut q = ListQuery {
            count: Some(i64::try_from(max).unwrap() * 5),
            ..ListQuery::default()
        };
        check(aws, &mut q).unwrap();
        assert_eq!(q.count, Some(i64::try_from(max).unwrap()));
        let mut q = ListQuery::default();
        check(aws, &mut q).unwrap();
        assert_eq!(q.count, Some(i64::try_from(max).unwrap()));
        let mut q = ListQuery {
            count: Some(3),
            ..ListQuery::default()
        };
        check(aws, &mut q).unwrap();
        assert_eq!(q.count, Some(3));
    }

    #[test]
    fn a_cursor_stands_for_an_offset_only_this_server_knows() {
        for offset in [0, 1, 100, 4096, usize::MAX] {
            assert_eq!(cursor_offset(&cursor_at(offset)).unwrap(), offset);
        }
        assert_eq!(
            cursor_offset("").unwrap(),
            0,
            "the empty cursor is the first page"
        );
        for refused in ["o", "x64", "64", "ozz", "o-1", "o11111111111111111"] {
            let e = cursor_offset(refused).unwrap_err();
            assert_eq!(
                (e.status, e.scim_type),
                (400, Some("invalidCursor")),
                "{refused}"
            );
        }
        let aws = emulating(&AWS_IDENTITY_CENTER);
        let mut q = ListQuery {
            cursor: Some(cursor_at(200)),
            ..ListQuery::default()
        };
        check(aws, &mut q).unwrap();
        assert_eq!(q.start_index, Some(201));
        let resources = vec![json!({"id": "a"}); 100];
        let body = aws.list_response(&q, 350, 201, &resources);
        assert_eq!(body["nextCursor"], cursor_at(300));
        assert_eq!(body["totalResults"], 350);
        assert!(body.get("startIndex").is_none());
        let last = aws.list_response(&q, 300, 201, &resources);
        assert!(
            last.get("nextCursor").is_none(),
            "nothing remains after the last page"
        );
        // A service without cursor paging drops the parameter; without a profile, the server
        // answers as RFC 7644 says whatever the query holds.
        let mut q = ListQuery {
            cursor: Some("o64".to_owned()),
            ..ListQuery::default()
        };
        check(emulating(&SLACK), &mut q).unwrap();
        assert_eq!((q.cursor, q.start_index), (None, None));
        let q = ListQuery {
            cursor: Some(String::new()),
            ..ListQuery::default()
        };
        let body = Emulation::default().list_response(&q, 350, 1, &resources);
        assert_eq!(body["startIndex"], 1);
        assert!(body.get("nextCursor").is_none());
    }

    #[test]
    fn start_index_is_refused_where_the_service_pages_by_cursor_only() {
        let q = || ListQuery {
            start_index: Some(1),
            ..ListQuery::default()
        };
        let e = check(emulating(&AWS_IDENTITY_CENTER), &mut q()).unwrap_err();
        assert_eq!((e.status, e.scim_type), (400, Some("invalidValue")));
        assert!(e.detail.contains("pages only by cursor"), "{}", e.detail);
        for profile in PROFILES.into_iter().filter(|p| p.paging.index) {
            check(emulating(profile), &mut q()).unwrap();
        }
    }

    #[test]
    fn search_and_bulk_follow_the_profile() {
        for profile in PROFILES {
            let emulation = emulating(profile);
            assert_eq!(
                emulation.check_search().is_err(),
                profile.filters == Filters::EqAnd
            );
            assert_eq!(emulation.check_bulk().is_err(), !profile.bulk);
            if let Err(e) = emulation.check_bulk() {
                assert_eq!(e.status, 501);
            }
            let mut config = crate::schema::service_provider_config("http://x/scim/v2");
            emulation.service_provider_config(&mut config);
            assert_eq!(config["bulk"]["supported"], profile.bulk);
            assert_eq!(
                config["filter"]["maxResults"],
                profile.paging.max_count.min(MAX_RESULTS)
            );
            assert_eq!(config["patch"]["supported"], true);
        }
    }

    #[test]
    fn put_on_groups_follows_the_profile() {
        for profile in PROFILES {
            let emulation = emulating(profile);
            let group = emulation.check_replace(ResourceKind::Group);
            assert_eq!(group.is_err(), !profile.group_put, "{}", profile.name);
            if let Err(e) = group {
                assert_eq!(e.status, 501);
            }
            assert!(emulation.check_replace(ResourceKind::User).is_ok());
        }
        let aws = emulating(&AWS_IDENTITY_CENTER);
        assert!(aws.check_replace(ResourceKind::Group).is_err());
        assert!(
            Emulation::new(None)
                .check_replace(ResourceKind::Group)
                .is_ok()
        );
    }

    #[test]
    fn group_patch_rules() {
        let aws = emulating(&AWS_IDENTITY_CENTER);
        let rules = AWS_IDENTITY_CENTER.group_patch;
        let replace = ops(json!([{"op": "replace", "path": "displayName", "value": "x"}]));
        assert_eq!(
            aws.check_patch(ResourceKind::Group, &replace).is_err(),
            !rules.replace
        );
        // Users are not groups: replace stays allowed on them.
        aws.check_patch(ResourceKind::User, &replace).unwrap();
        let remove_all = ops(json!([{"op": "remove"}]));
        if !rules.remove_without_path {
            let e = aws
                .check_patch(ResourceKind::Group, &remove_all)
                .unwrap_err();
            assert_eq!(e.scim_type, Some("noTarget"));
        }
        if let Some(max) = rules.member_changes_per_request {
            let members =
                |n: usize| -> Value { (0..n).map(|i| json!({"value": format!("u{i}")})).collect() };
            let at_max = ops(json!([{"op": "add", "path": "members", "value": members(max)}]));
            aws.check_patch(ResourceKind::Group, &at_max).unwrap();
            let over = ops(json!([
                {"op": "add", "path": "members", "value": members(max)},
                {"op": "remove", "path": "members", "value": [{"value": "x"}]},
            ]));
            let e = aws.check_patch(ResourceKind::Group, &over).unwrap_err();
            assert!(e.detail.contains(&max.to_string()), "{}", e.detail);
            let pathless = ops(json!([{"op": "add", "value": {"members": members(max + 1)}}]));
            assert!(aws.check_patch(ResourceKind::Group, &pathless).is_err());
        }
    }

    #[test]
    fn value_list_removal() {
        let aws = emulating(&AWS_IDENTITY_CENTER);
        assert_eq!(
            AWS_IDENTITY_CENTER.group_patch.member_removal,
            MemberRemoval::ValueList
        );
        let filtered = ops(json!([{"op": "remove", "path": "members[value eq \"u\"]"}]));
        let e = aws.check_patch(ResourceKind::Group, &filtered).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidPath"));
        let listed = ops(json!([{"op": "remove", "path": "members", "value": [{"value": "u"}]}]));
        aws.check_patch(ResourceKind::Group, &listed).unwrap();
        // A ValuePath service takes both forms.
        let slack = emulating(&SLACK);
        assert_eq!(SLACK.group_patch.member_removal, MemberRemoval::ValuePath);
        slack.check_patch(ResourceKind::Group, &filtered).unwrap();
        slack.check_patch(ResourceKind::Group, &listed).unwrap();
    }

    #[test]
    fn members_on_create_and_hidden_members() {
        let aws = emulating(&AWS_IDENTITY_CENTER);
        let group = |members: Value| {
            validate(
                ResourceKind::Group,
                &json!({"schemas": [GROUP], "displayName": "g", "members": members}),
            )
            .unwrap()
        };
        aws.check_create(ResourceKind::Group, &group(json!([])))
            .unwrap();
        let most = AWS_IDENTITY_CENTER
            .group_patch
            .member_changes_per_request
            .unwrap();
        let members = |n: usize| (0..n).map(|i| json!({"value": format!("u{i}")})).collect();
        if AWS_IDENTITY_CENTER.group_patch.members_on_create {
            aws.check_create(ResourceKind::Group, &group(members(most)))
                .unwrap();
        }
        assert!(
            aws.check_create(ResourceKind::Group, &group(members(most + 1)))
                .is_err()
        );
        assert_eq!(
            aws.check_create(ResourceKind::Group, &group(json!([{"value": "u"}])))
                .is_err(),
            !AWS_IDENTITY_CENTER.group_patch.members_on_create
        );
        let mut rendered = json!({"id": "g", "members": [{"value": "u"}]});
        aws.hide_members(ResourceKind::Group, &mut rendered);
        assert_eq!(
            rendered.get("members").is_none(),
            AWS_IDENTITY_CENTER.members.hidden_filter().is_some()
        );
    }

    #[test]
    fn emails_and_phone_numbers_are_bounded() {
        let aws = emulating(&AWS_IDENTITY_CENTER);
        let max = AWS_IDENTITY_CENTER.max_emails.expect("AWS bounds emails");
        let emails = |n: usize| -> Value {
            (0..n)
                .map(|i| json!({"value": format!("a{i}@example.com")}))
                .collect()
        };
        aws.check_body(ResourceKind::User, &user(json!({"emails": emails(max)})))
            .unwrap();
        let e = aws
            .check_body(
                ResourceKind::User,
                &user(json!({"emails": emails(max + 1)})),
            )
            .unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        let max = AWS_IDENTITY_CENTER
            .max_phone_numbers
            .expect("AWS bounds phone numbers");
        let phones: Value = (0..=max)
            .map(|i| json!({"value": format!("+1555000{i}")}))
            .collect();
        assert!(
            aws.check_body(ResourceKind::User, &user(json!({"phoneNumbers": phones})))
                .is_err()
        );
        Emulation::default()
            .check_body(
                ResourceKind::User,
                &user(json!({"emails": emails(max + 3)})),
            )
            .unwrap();
    }

    #[test]
    fn roles_only_among_the_profiles() {
        let github = emulating(&GITHUB_EMU);
        let roles = GITHUB_EMU.roles.expect("GitHub EMU has roles");
        assert_eq!(roles.schema, USER);
        let known = roles.values[0];
        github
            .check_body(
                ResourceKind::User,
                &user(json!({"roles": [{"value": known, "primary": true}]})),
            )
            .unwrap();
        let e = github
            .check_body(
                ResourceKind::User,
                &user(json!({"roles": [{"value": "Not A Role"}]})),
            )
            .unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        assert!(e.detail.contains(known), "{}", e.detail);
        // Without emulation, core roles stay open, as RFC 7643 leaves them.
        Emulation::default()
            .check_body(
                ResourceKind::User,
                &user(json!({"roles": [{"value": "Not A Role"}]})),
            )
            .unwrap();
    }

    #[test]
    fn tonkean_roles_are_one_list() {
        // The schema closes `tonkeanRoles` for every mode; emulating Tonkean checks the same list.
        let roles = TONKEAN.roles.expect("Tonkean has roles");
        let (_, attribute) = registry()
            .attribute(ResourceKind::User, Some(roles.schema), roles.attribute)
            .expect("the server knows the Tonkean roles");
        let mut schema: Vec<&str> = attribute
            .canonical_values
            .iter()
            .map(String::as_str)
            .collect();
        let mut profile = roles.values.to_vec();
        schema.sort_unstable();
        profile.sort_unstable();
        assert_eq!(schema, profile);
        let body = validate(
            ResourceKind::User,
            &json!({"schemas": [USER, roles.schema], "userName": "a",
                    roles.schema: {roles.attribute: [roles.values[0]]}}),
        )
        .unwrap();
        emulating(&TONKEAN)
            .check_body(ResourceKind::User, &body)
            .unwrap();
    }

    #[test]
    fn hidden_members_are_still_found_by_filter() {
        let dir = tempfile::tempdir().unwrap();
        let directory = Directory::open(
            &dir.path().join("s.db"),
            "http://x/scim/v2".to_owned(),
            emulating(&AWS_IDENTITY_CENTER),
        )
        .unwrap();
        let ada = directory
            .create(
                ResourceKind::User,
                &json!({"schemas": [USER], "userName": "ada"}),
            )
            .unwrap()
            .resource["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let group = directory
            .create(
                ResourceKind::Group,
                &json!({"schemas": [GROUP], "displayName": "g"}),
            )
            .unwrap();
        let group = group.resource["id"].as_str().unwrap().to_owned();
        let patched = directory
            .patch(
                ResourceKind::Group,
                &group,
                &json!({"schemas": [scim::urn::PATCH_OP], "Operations": [
                    {"op": "add", "path": "members", "value": [{"value": ada}]}]}),
                None,
            )
            .unwrap();
        assert!(patched.resource.get("members").is_none());
        assert!(
            directory
                .get(ResourceKind::Group, &group)
                .unwrap()
                .resource
                .get("members")
                .is_none()
        );
        for filter in [
            format!("members eq \"{ada}\""),
            format!("members.value eq \"{ada}\""),
            format!("id eq \"{group}\" and members eq \"{ada}\""),
        ] {
            let listed = directory
                .list(&[ResourceKind::Group], &query(&filter))
                .unwrap();
            assert_eq!(listed["totalResults"], 1, "{filter}");
            assert_eq!(listed["Resources"][0]["id"], group.as_str());
            assert!(listed["Resources"][0].get("members").is_none());
        }
        let none = directory
            .list(&[ResourceKind::Group], &query("members eq \"nobody\""))
            .unwrap();
        assert_eq!(none["totalResults"], 0);
        // The user still shows the group it is in.
        let ada = directory.get(ResourceKind::User, &ada).unwrap();
        assert_eq!(ada.resource["groups"][0]["value"], group.as_str());
    }
}
