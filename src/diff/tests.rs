//! The diff rules, one test per rule, on configs written as YAML and server state written as
//! SCIM JSON.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::*;
use crate::client::Keep;
use crate::config::{self, LoadOptions};
use crate::state::{LiveGroup, LiveState, LiveUser};

fn load(yaml: &str) -> Config {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimform.yaml");
    std::fs::write(&path, yaml).unwrap();
    match config::load(&path, &LoadOptions::default()) {
        Ok(config) => config,
        Err(errors) => panic!("config does not load: {errors:?}"),
    }
}

const HEAD: &str = "version: 1\nproviders:\n  p:\n    url: https://scim.example.com/scim/v2\n    token: ${T}\n    preset: tonkean\n";

fn with_head(rest: &str) -> Config {
    load(&format!("{HEAD}{rest}"))
}

/// A server user, read as a server without PATCH is read: whole, for a PUT to send back.
fn user(id: &str, resource: Value) -> LiveUser {
    let mut resource = resource;
    resource["id"] = json!(id);
    let mut user = LiveUser::from_value(&resource, Keep::Whole).expect("a user");
    user.version = Some("W/\"1\"".into());
    user
}

fn group(id: &str, name: &str, members: &[&str]) -> LiveGroup {
    let resource = json!({
        "id": id, "displayName": name,
        "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()
    });
    LiveGroup::from_value(&resource, Keep::Whole).expect("a group")
}

fn state(users: Vec<LiveUser>, groups: Vec<LiveGroup>) -> LiveState {
    LiveState {
        total_users: users.len(),
        total_groups: groups.len(),
        users,
        groups,
        users_complete: true,
        groups_complete: true,
        ..LiveState::default()
    }
}

fn caps(patch: bool) -> Capabilities {
    Capabilities {
        patch,
        ..Capabilities::default()
    }
}

fn run(config: &Config, live: &LiveState) -> Vec<Op> {
    try_run(config, live, true).unwrap().0
}

fn try_run(
    config: &Config,
    live: &LiveState,
    patch: bool,
) -> Result<(Vec<Op>, Unmanaged), Refusal> {
    diff(
        config,
        &config.providers()[0],
        live,
        &caps(patch),
        Options::default(),
    )
}

fn operations(op: &Op) -> &Value {
    &op.request.body.as_ref().unwrap()["Operations"]
}

#[test]
fn a_converged_directory_needs_no_op() {
    let config = with_head(
        "users:\n  - userName: ada@example.com\n    title: Analyst\n    emails: [ada@example.com]\n    active: true\ngroups:\n  - displayName: Ops\n    members: [ada@example.com]\nroles:\n  SYSTEM_USER:\n    users: [ada@example.com]\n",
    );
    let live = state(
        vec![user(
            "1",
            json!({"userName": "Ada@Example.com", "title": "Analyst", "active": true,
                   "emails": [{"value": "ADA@example.com", "type": "work"}],
                   "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER"]}}),
        )],
        vec![group("g", "Ops", &["1"])],
    );
    let (ops, unmanaged) = try_run(&config, &live, true).unwrap();
    assert!(ops.is_empty(), "{ops:#?}");
    assert_eq!(unmanaged, Unmanaged::default());
}

#[test]
fn a_new_user_is_one_post_with_only_declared_attributes() {
    let config = with_head(
        "users:\n  - userName: ada@example.com\n    name: { givenName: Ada }\n    emails: [ada@example.com]\n    nickName: null\nroles:\n  SYSTEM_USER:\n    users: [ada@example.com]\n",
    );
    let ops = run(&config, &state(vec![], vec![]));
    assert_eq!(ops.len(), 1);
    let op = &ops[0];
    assert_eq!((op.action, op.phase), (Action::Create, Phase::Users));
    assert_eq!(op.request.method, Method::Post);
    assert_eq!(op.request.path, "/Users");
    assert_eq!(op.bulk_id.as_deref(), Some("u1"));
    assert_eq!(
        op.request.body.as_ref().unwrap(),
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:scim:tonkean"],
            "userName": "ada@example.com",
            "name": {"givenName": "Ada"},
            "emails": [{"value": "ada@example.com"}],
            "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER"]}
        })
    );
    assert_eq!(op.observed, Observed::Absent);
}

#[test]
fn an_update_patches_only_the_changed_paths() {
    let config = with_head(
        "users:\n  - userName: ada@example.com\n    title: Lead\n    displayName: Ada\n    nickName: null\n",
    );
    let live = state(
        vec![user(
            "7",
            json!({"userName": "ada@example.com", "title": "Analyst", "displayName": "Ada",
                   "nickName": "ada", "locale": "en-GB"}),
        )],
        vec![],
    );
    let ops = run(&config, &live);
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].request.method, Method::Patch);
    assert_eq!(ops[0].request.path, "/Users/7");
    assert_eq!(
        operations(&ops[0]),
        &json!([
            {"op": "remove", "path": "nickName"},
            {"op": "replace", "path": "title", "value": "Lead"}
        ])
    );
    match &ops[0].observed {
        Observed::Present { id, version, hash } => {
            assert_eq!(id, "7");
            assert_eq!(version.as_deref(), Some("W/\"1\""));
            assert!(hash.starts_with("sha256:"));
        }
        Observed::Absent => panic!("an update observes the object"),
    }
}

#[test]
fn email_case_and_undeclared_sub_attributes_are_not_changes() {
    let config = with_head(
        "users:\n  - userName: ada@example.com\n    emails: [Ada@Example.COM]\n    name: { givenName: Ada }\n",
    );
    let live = state(
        vec![user(
            "1",
            json!({"userName": "ada@example.com",
                   "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
                   "name": {"givenName": "Ada", "formatted": "Ada L."}}),
        )],
        vec![],
    );
    assert!(run(&config, &live).is_empty());
}

#[test]
fn a_declared_email_type_is_compared() {
    let config = with_head(
        "users:\n  - userName: ada@example.com\n    emails: [{ value: ada@example.com, type: home }]\n",
    );
    let live = state(
        vec![user(
            "1",
            json!({"userName": "ada@example.com", "emails": [{"value": "ada@example.com", "type": "work"}]}),
        )],
        vec![],
    );
    let ops = run(&config, &live);
    assert_eq!(
        operations(&ops[0]),
        &json!([{"op": "replace", "path": "emails", "value": [{"value": "ada@example.com", "type": "home"}]}])
    );
}

#[test]
fn a_matching_external_id_is_a_rename_not_a_create() {
    let config =
        with_head("users:\n  - userName: ada.lovelace@example.com\n    externalId: 00u1\n");
    let live = state(
        vec![user(
            "1",
            json!({"userName": "ada@example.com", "externalId": "00u1"}),
        )],
        vec![],
    );
    let ops = run(&config, &live);
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].action, Action::Update);
    assert_eq!(
        operations(&ops[0]),
        &json!([{"op": "replace", "path": "userName", "value": "ada.lovelace@example.com"}])
    );
}

#[test]
fn roles_come_from_groups_too_and_extra_roles_are_removed() {
    let config = with_head(
        "users:\n  - userName: ada@example.com\ngroups:\n  - displayName: Owners\n    members: [ada@example.com]\nroles:\n  PROCESS_CONTRIBUTOR:\n    groups: [Owners]\n",
    );
    let live = state(
        vec![user(
            "1",
            json!({"userName": "ada@example.com", "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER"]}}),
        )],
        vec![group("g", "Owners", &["1"])],
    );
    let ops = run(&config, &live);
    assert_eq!(ops.len(), 1, "{ops:#?}");
    assert_eq!(
        operations(&ops[0]),
        &json!([{"op": "replace", "path": "urn:scim:tonkean:tonkeanRoles", "value": ["PROCESS_CONTRIBUTOR"]}])
    );
    assert_eq!(ops[0].changes[0].old, Some(json!(["SYSTEM_USER"])));
}

#[test]
fn core_roles_are_shown_as_strings_and_sent_as_objects() {
    let config = load(
        "version: 1\nproviders:\n  p:\n    url: https://scim.example.com/scim/v2\n    token: ${T}\n    preset: github-emu\nusers:\n  - userName: ada@example.com\nroles:\n  enterprise_owner:\n    users: [ada@example.com]\n",
    );
    let live = state(
        vec![user("1", json!({"userName": "ada@example.com"}))],
        vec![],
    );
    let ops = run(&config, &live);
    assert_eq!(ops.len(), 1, "{ops:#?}");
    assert_eq!(
        operations(&ops[0]),
        &json!([{"op": "replace", "path": "roles", "value": [{"value": "enterprise_owner"}]}])
    );
    assert_eq!(ops[0].changes[0].old, Some(json!([])));
    assert_eq!(ops[0].changes[0].new, Some(json!(["enterprise_owner"])));
    let provider = crate::plan::ProviderPlan {
        provider: "p".to_owned(),
        url: "https://scim.example.com/scim/v2".to_owned(),
        server: None,
        capabilities: caps(true),
        reads: 1,
        existing_users: 1,
        unmanaged: Unmanaged::default(),
        warnings: Vec::new(),
        bulk: false,
        notes: Vec::new(),
        reading: crate::plan::Reading::default(),
        ops,
    };
    let plan = crate::plan::Plan::new(std::collections::BTreeMap::new(), vec![provider]);
    let text = crate::render::render(&plan, crate::render::Format::Text, false);
    assert!(text.contains("+ role enterprise_owner"), "{text}");
    assert!(!text.contains("\"value\""), "{text}");
}

#[test]
fn a_user_with_no_roles_left_loses_them() {
    let config = with_head("users:\n  - userName: ada@example.com\n");
    let live = state(
        vec![user(
            "1",
            json!({"userName": "ada@example.com", "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER"]}}),
        )],
        vec![],
    );
    let ops = run(&config, &live);
    assert_eq!(
        operations(&ops[0]),
        &json!([{"op": "remove", "path": "urn:scim:tonkean:tonkeanRoles"}])
    );
}

#[test]
fn tombstones_deactivate_once_or_delete() {
    let yaml = "users:\n  - userName: ada@example.com\n    absent: true\n  - userName: bob@example.com\n    absent: true\n  - userName: gone@example.com\n    absent: true\n";
    let live = state(
        vec![
            user("1", json!({"userName": "ada@example.com", "active": true})),
            user("2", json!({"userName": "bob@example.com", "active": false})),
        ],
        vec![],
    );
    let ops = run(&with_head(yaml), &live);
    assert_eq!(
        ops.len(),
        1,
        "bob is already inactive; gone is not there: {ops:#?}"
    );
    assert_eq!(ops[0].action, Action::Deactivate);
    assert_eq!(ops[0].reason, Some(Reason::Tombstone));
    assert_eq!(ops[0].phase, Phase::DeprovisionUsers);
    assert_eq!(
        operations(&ops[0]),
        &json!([{"op": "replace", "path": "active", "value": false}])
    );

    let deleting = load(&format!("{HEAD}    deprovision: delete\n{yaml}"));
    let ops = run(&deleting, &live);
    assert_eq!(ops.len(), 2);
    assert!(
        ops.iter()
            .all(|op| op.action == Action::Delete && op.request.body.is_none())
    );
    assert_eq!(ops[0].request.path, "/Users/1");
}

#[test]
fn undeclared_objects_are_counted_or_pruned() {
    let live = state(
        vec![
            user("1", json!({"userName": "ada@example.com"})),
            user(
                "2",
                json!({"userName": "stranger@example.com", "active": true}),
            ),
        ],
        vec![group("g", "Strangers", &[])],
    );
    let yaml = "users:\n  - userName: ada@example.com\n";
    let (ops, unmanaged) = try_run(&with_head(yaml), &live, true).unwrap();
    assert!(ops.is_empty());
    assert_eq!(
        unmanaged,
        Unmanaged {
            users: 1,
            groups: 1,
            user_names: vec!["stranger@example.com".to_owned()],
            group_names: vec!["Strangers".to_owned()],
        }
    );

    let pruning = load(&format!("{HEAD}    prune: true\n{yaml}"));
    let (ops, unmanaged) = try_run(&pruning, &live, true).unwrap();
    assert_eq!(unmanaged, Unmanaged::default());
    let summary: Vec<(Action, &str, Option<Reason>)> = ops
        .iter()
        .map(|op| (op.action, op.key.as_str(), op.reason))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                Action::Deactivate,
                "stranger@example.com",
                Some(Reason::Pruned)
            ),
            (Action::Delete, "Strangers", Some(Reason::Pruned)),
        ]
    );
}

#[test]
fn pruning_refuses_an_incomplete_listing() {
    let mut live = state(
        vec![user("1", json!({"userName": "ada@example.com"}))],
        vec![],
    );
    live.total_users = 2;
    live.users_complete = false;
    let pruning = load(&format!("{HEAD}    prune: true\nusers: []\n"));
    let err = try_run(&pruning, &live, true).unwrap_err();
    assert!(
        err.to_string()
            .contains("the server reported 2 users but listed 1 distinct ones"),
        "{err}"
    );
    // The refusal names the check the listing failed, and where.
    live.users_untrusted = Some(crate::client::Untrusted {
        check: ListingCheck::StartIndex,
        detail: "GET /Users?startIndex=101&count=100 answered startIndex 1".to_owned(),
    });
    let err = try_run(&pruning, &live, true).unwrap_err();
    assert_eq!(
        err.to_string(),
        "provider `p`: the user listing failed the check \"startIndex echoed as asked\": GET \
         /Users?startIndex=101&count=100 answered startIndex 1; refusing to prune from a \
         listing that cannot be trusted (run the plan again; if it persists, the server's \
         pagination is unreliable: set prune: false)"
    );
}

#[test]
fn members_the_server_does_not_show_are_never_taken_for_none() {
    let config = with_head(
        "users:\n  - userName: ada@example.com\ngroups:\n  - displayName: Ops\n    members: [ada@example.com]\n  - displayName: Loose\n",
    );
    let mut hidden = group("g", "Ops", &[]);
    hidden.members_listed = false;
    let mut loose = group("h", "Loose", &[]);
    loose.members_listed = false;
    let mut live = state(
        vec![user("1", json!({"userName": "ada@example.com"}))],
        vec![hidden, loose],
    );
    live.hidden_members = Some(HiddenMembers::Unreadable(
        "the server answers no member filter".to_owned(),
    ));
    let err = try_run(&config, &live, true).unwrap_err();
    assert!(
        matches!(&err, Refusal::MembersUnseen { group, reason, .. }
            if group == "Ops" && reason == "the server answers no member filter"),
        "{err}"
    );
    // A group whose members the file leaves alone needs none.
    let unmanaged = with_head("groups:\n  - displayName: Loose\n    externalId: x\n");
    let ops = run(&unmanaged, &live);
    assert_eq!(ops.len(), 1, "{ops:#?}");
}

#[test]
fn a_put_that_could_drop_members_the_server_does_not_show_is_refused() {
    let config = with_head("groups:\n  - displayName: Loose\n    externalId: x\n");
    let mut loose = group("h", "Loose", &[]);
    loose.members_listed = false;
    let live = state(Vec::new(), vec![loose]);
    let err = try_run(&config, &live, false).unwrap_err();
    assert!(
        matches!(&err, Refusal::PutWithoutMembers { group, .. } if group == "Loose"),
        "{err}"
    );
    // With PATCH, only the externalId is sent: the members are left alone.
    let ops = run(&config, &live);
    assert_eq!(ops.len(), 1, "{ops:#?}");
    assert_eq!(ops[0].request.method, Method::Patch);
    // Members the server shows (none) are sent back whole with the PUT.
    let mut shown = group("h", "Loose", &[]);
    shown.members_listed = true;
    let ops = try_run(&config, &state(Vec::new(), vec![shown]), false)
        .unwrap()
        .0;
    assert_eq!(ops[0].request.method, Method::Put);
}

#[test]
fn a_claimed_total_beyond_any_directory_does_not_overflow_the_guard() {
    let mut live = state(
        vec![user(
            "1",
            json!({"userName": "ada@example.com", "active": true}),
        )],
        vec![],
    );
    live.total_users = usize::MAX;
    let config = with_head("users:\n  - userName: ada@example.com\n    absent: true\n");
    let ops = run(&config, &live);
    assert_eq!(ops.len(), 1);
}

#[test]
fn mass_deprovisioning_is_refused_unless_allowed() {
    let users: Vec<LiveUser> = (0..20)
        .map(|i| {
            user(
                &i.to_string(),
                json!({"userName": format!("u{i}@example.com"), "active": true}),
            )
        })
        .collect();
    let live = state(users, vec![]);
    // Three tombstones out of 20 users is 15%, over the default 10%.
    let config = with_head(
        "users:\n  - { userName: u1@example.com, absent: true }\n  - { userName: u2@example.com, absent: true }\n  - { userName: u3@example.com, absent: true }\n",
    );
    let err = try_run(&config, &live, true).unwrap_err();
    assert!(
        matches!(
            err,
            Refusal::MassDelete {
                count: 3,
                existing: 20,
                limit: 10,
                ..
            }
        ),
        "{err}"
    );
    let allowed = diff(
        &config,
        &config.providers()[0],
        &live,
        &caps(true),
        Options {
            allow_mass_delete: true,
        },
    )
    .unwrap();
    assert_eq!(allowed.0.len(), 3);
    // Two of 20 (10%) is within the limit.
    let config = with_head(
        "users:\n  - { userName: u1@example.com, absent: true }\n  - { userName: u2@example.com, absent: true }\n",
    );
    assert_eq!(run(&config, &live).len(), 2);
}

#[test]
fn new_users_join_new_and_existing_groups_by_bulk_id() {
    let config = with_head(
        "users:\n  - userName: ada@example.com\n  - userName: bob@example.com\ngroups:\n  - displayName: New\n    members: [ada@example.com, bob@example.com]\n  - displayName: Old\n    members: [ada@example.com, bob@example.com]\n",
    );
    let live = state(
        vec![user("b", json!({"userName": "bob@example.com"}))],
        vec![group("o", "Old", &["b"])],
    );
    let ops = run(&config, &live);
    let keys: Vec<(&str, Phase, Action)> = ops
        .iter()
        .map(|op| (op.key.as_str(), op.phase, op.action))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("ada@example.com", Phase::Users, Action::Create),
            ("New", Phase::Groups, Action::Create),
            ("Old", Phase::Groups, Action::Update),
        ]
    );
    assert_eq!(
        ops[1].request.body.as_ref().unwrap()["members"],
        json!([{"value": "b"}, {"value": "bulkId:u1"}])
    );
    assert_eq!(ops[1].depends_on, vec!["u1".to_owned()]);
    assert_eq!(
        operations(&ops[2]),
        &json!([{"op": "add", "path": "members", "value": [{"value": "bulkId:u1"}]}])
    );
    assert_eq!(ops[2].depends_on, vec!["u1".to_owned()]);
}

#[test]
fn removed_members_are_a_later_phase_by_value_filter() {
    let config = with_head(
        "users:\n  - userName: ada@example.com\ngroups:\n  - displayName: Ops\n    members: []\n",
    );
    let live = state(
        vec![user("1", json!({"userName": "ada@example.com"}))],
        vec![group("g", "Ops", &["1", "zzz"])],
    );
    let ops = run(&config, &live);
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].phase, Phase::RemoveMembers);
    assert_eq!(
        operations(&ops[0]),
        &json!([
            {"op": "remove", "path": "members[value eq \"1\"]"},
            {"op": "remove", "path": "members[value eq \"zzz\"]"}
        ])
    );
    assert_eq!(
        ops[0].changes[0].old,
        Some(json!(["ada@example.com", "zzz"]))
    );
}

#[test]
fn without_patch_support_an_update_is_a_put_of_the_whole_resource() {
    let config = with_head("users:\n  - userName: ada@example.com\n    title: Lead\n");
    let live = state(
        vec![user(
            "1",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                   "userName": "ada@example.com", "title": "Analyst", "locale": "fr",
                   "meta": {"version": "W/\"1\""}}),
        )],
        vec![],
    );
    let (ops, _) = try_run(&config, &live, false).unwrap();
    assert_eq!(ops[0].request.method, Method::Put);
    assert_eq!(
        ops[0].request.body.as_ref().unwrap(),
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1",
                "userName": "ada@example.com", "title": "Lead", "locale": "fr"})
    );
}

#[test]
fn without_patch_support_a_group_is_put_whole_with_its_new_members() {
    let config = with_head(
        "users:\n  - userName: ada@example.com\ngroups:\n  - displayName: Ops\n    members: [ada@example.com]\n",
    );
    let owners = json!({"id": "g", "displayName": "Ops", "owner": "someone",
                        "members": [{"value": "zzz", "display": "gone"}],
                        "meta": {"version": "W/\"2\""}});
    let live = state(
        vec![user("1", json!({"userName": "ada@example.com"}))],
        vec![LiveGroup::from_value(&owners, Keep::Whole).unwrap()],
    );
    let (ops, _) = try_run(&config, &live, false).unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].request.method, Method::Put);
    assert_eq!(
        ops[0].request.body.as_ref().unwrap(),
        &json!({"id": "g", "displayName": "Ops", "owner": "someone", "members": [{"value": "1"}]})
    );
    let Observed::Present { version, hash, .. } = &ops[0].observed else {
        panic!("the group was observed")
    };
    assert_eq!(version.as_deref(), Some("W/\"2\""));
    assert_eq!(hash, &crate::state::resource_hash(&owners));
}

#[test]
fn large_membership_changes_are_split_into_requests() {
    let users: String = (0..2500).fold(String::new(), |mut out, i| {
        let _ = writeln!(out, "  - userName: m{i}@example.com");
        out
    });
    let members: Vec<String> = (0..2500).map(|i| format!("m{i}@example.com")).collect();
    let config = with_head(&format!(
        "users:\n{users}groups:\n  - displayName: Big\n    members: [{}]\n",
        members.join(", ")
    ));
    let live_users: Vec<LiveUser> = (0..2500)
        .map(|i| {
            user(
                &format!("id{i}"),
                json!({"userName": format!("m{i}@example.com")}),
            )
        })
        .collect();
    let live = state(live_users, vec![group("g", "Big", &[])]);
    let ops = run(&config, &live);
    assert_eq!(ops.len(), 3);
    let sizes: Vec<usize> = ops
        .iter()
        .map(|op| operations(op)[0]["value"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![1000, 1000, 500]);
    assert_eq!(ops[0].key, "Big (1/3)");
}

#[test]
fn flags_and_multi_valued_attributes_compare_by_value_not_by_text() {
    let config = with_head(
        "users:\n  - userName: ada@example.com\n    active: true\n    emails: [ada@example.com, Ada.L@Example.com]\n    phoneNumbers: ['+1 555 0100']\n  - userName: bob@example.com\n    active: false\n    emails: [{ value: bob@example.com, primary: true }]\n",
    );
    let same = |ada_active: bool, bob_primary: bool| {
        state(
            vec![
                user(
                    "1",
                    json!({"userName": "ADA@example.com", "active": ada_active,
                           "emails": [{"value": "ada.l@example.com"}, {"value": "Ada@Example.com"}],
                           "phoneNumbers": [{"value": " +1 555 0100 "}]}),
                ),
                user(
                    "2",
                    json!({"userName": "bob@example.com", "active": false,
                           "emails": [{"value": "BOB@example.com", "primary": bob_primary}]}),
                ),
            ],
            vec![],
        )
    };
    assert!(run(&config, &same(true, true)).is_empty());

    let ops = run(&config, &same(false, false));
    let changed: Vec<(&str, Vec<&str>)> = ops
        .iter()
        .map(|op| {
            let attributes = op.changes.iter().map(|c| c.attribute.as_str()).collect();
            (op.key.as_str(), attributes)
        })
        .collect();
    assert_eq!(
        changed,
        [
            ("ada@example.com", vec!["active"]),
            ("bob@example.com", vec!["emails"])
        ]
    );
}

#[test]
fn an_attribute_under_two_spellings_is_compared_as_the_rule_reads_it() {
    let config = with_head("users:\n  - userName: ada@example.com\n    title: Lead\n");
    // The exact spelling is read, and the other left alone.
    let converged = user(
        "1",
        json!({"userName": "ada@example.com", "TITLE": "Analyst", "title": "Lead"}),
    );
    assert!(run(&config, &state(vec![converged], vec![])).is_empty());
    let stale = user(
        "1",
        json!({"userName": "ada@example.com", "title": "Analyst", "TITLE": "Lead"}),
    );
    let ops = run(&config, &state(vec![stale], vec![]));
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].changes[0].old, Some(json!("Analyst")));
    // Without the exact spelling, the spelling that sorts first.
    let upper = user(
        "1",
        json!({"userName": "ada@example.com", "Title": "Analyst", "TITLE": "Lead"}),
    );
    assert!(run(&config, &state(vec![upper], vec![])).is_empty());
}

#[test]
fn with_patch_support_only_the_attributes_read_are_needed() {
    let config = with_head("users:\n  - userName: ada@example.com\n    title: Lead\n");
    let current = LiveUser::from_value(
        &json!({"id": "1", "userName": "ada@example.com", "title": "Analyst",
                "addresses": [{"locality": "Paris"}], "meta": {"version": "W/\"4\""}}),
        Keep::Managed,
    )
    .unwrap();
    assert!(current.resource.is_none());
    let ops = run(&config, &state(vec![current.clone()], vec![]));
    assert_eq!(ops[0].request.method, Method::Patch);
    assert_eq!(
        ops[0].observed,
        Observed::Present {
            id: "1".into(),
            version: Some("W/\"4\"".into()),
            hash: current.hash(),
        }
    );
}

#[test]
fn objects_match_by_key_then_by_external_id_each_server_object_once() {
    // Server objects as (userName, externalId).
    let live = [
        ("Ada", Some("e-ada")),     // 0: ada by name
        ("ada", Some("e-other")),   // 1: a second "ada": the first holder of a name wins
        ("old-grace", Some("e-g")), // 2: grace, renamed, by externalId
        ("linus", Some("e-l")),     // 3: linus by name, though its externalId is wanted below
        ("late", Some("e-g")),      // 4: holds grace's externalId after the first holder
        ("stray", None),            // 5: nobody's
        ("Other", None),            // 6: declared, but not on this provider
    ];
    // Declared: (key, externalId).
    let declared = [
        ("ada", None),
        ("grace", Some("e-g")),
        ("linus", Some("e-l")),
        ("ken", Some("e-l")), // linus's externalId, but linus is matched by name
        ("joan", Some("e-g")), // grace's externalId, taken by grace first
        ("new", Some("e-none")),
    ];
    // As the config would hold them: a seventh object, on another provider, is not declared.
    let in_config = [declared.as_slice(), &[("other", Some("e-ada"))]].concat();
    let on_provider: Vec<(usize, Option<&str>)> = (declared.iter().enumerate())
        .map(|(i, (_, e))| (i, *e))
        .collect();
    let matches = match_objects(
        &on_provider,
        in_config.len(),
        |key| in_config.iter().position(|(k, _)| *k == key),
        &live,
        |(name, _)| name,
        |(_, external)| *external,
    );
    assert_eq!(
        matches,
        [Some(0), Some(2), Some(3), None, None, None],
        "ada by name (first holder), grace renamed, linus by name, the rest unmatched"
    );
}

fn warnings(config: &Config, live: &LiveState) -> Vec<Warning> {
    compute(config, &config.providers()[0], live, &caps(true))
        .unwrap()
        .warnings
}

fn rename(
    resource: ResourceKind,
    key: &str,
    of: &str,
    because: &str,
    then: RenameOutcome,
    external_id: Option<&str>,
) -> Warning {
    Warning::LikelyRename {
        resource,
        key: key.to_owned(),
        of: of.to_owned(),
        because: because.to_owned(),
        then,
        external_id: external_id.map(str::to_owned),
    }
}

#[test]
fn a_created_user_like_an_undeclared_one_is_a_likely_rename_strongest_likeness_first() {
    let live = state(
        vec![
            // Shares the displayName only.
            user(
                "1",
                json!({"userName": "a-display@example.com", "displayName": "Ada Lovelace"}),
            ),
            // Shares the email, and has an externalId to declare.
            user(
                "2",
                json!({"userName": "z-email@example.com", "externalId": "00u1",
                       "emails": [{"value": "Ada@Example.com", "type": "work"}]}),
            ),
            // Shares nothing.
            user("3", json!({"userName": "stranger@example.com"})),
        ],
        vec![],
    );
    let yaml = "users:
  - userName: ada@example.com
    displayName: Ada Lovelace
    emails: [ada@example.com]
";
    let expected = |then| {
        vec![rename(
            ResourceKind::User,
            "ada@example.com",
            "z-email@example.com",
            "same email Ada@Example.com",
            then,
            Some("00u1"),
        )]
    };
    assert_eq!(
        warnings(&with_head(yaml), &live),
        expected(RenameOutcome::LeftAlone)
    );
    let pruning = load(&format!("{HEAD}    prune: true\n{yaml}"));
    assert_eq!(warnings(&pruning, &live), expected(RenameOutcome::Replaced));
    // With an externalId declared, a create is meant as one.
    let declared = with_head(&format!("{yaml}    externalId: 00u9\n"));
    assert_eq!(warnings(&declared, &live), []);
}

#[test]
fn a_created_group_sharing_most_members_with_an_undeclared_one_is_a_likely_rename() {
    let users: Vec<LiveUser> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| user(n, json!({"userName": format!("{n}@example.com")})))
        .collect();
    let live = state(
        users,
        vec![
            group("g1", "Two of four", &["a", "b", "x", "y"]),
            group("g2", "Three of four", &["a", "b", "c", "z"]),
        ],
    );
    let members = |list: &str| {
        format!(
            "users:\n  - userName: a@example.com\n  - userName: b@example.com\n  - userName: c@example.com\n  - userName: d@example.com\ngroups:\n  - displayName: New\n    members: [{list}]\n"
        )
    };
    // Half is not enough; three of four is, and the closer group wins.
    assert_eq!(
        warnings(
            &with_head(&members(
                "a@example.com, b@example.com, c@example.com, d@example.com"
            )),
            &live
        ),
        [rename(
            ResourceKind::Group,
            "New",
            "Three of four",
            "3 of 4 members in common",
            RenameOutcome::LeftAlone,
            None
        )]
    );
    assert_eq!(
        warnings(&with_head(&members("a@example.com, b@example.com")), &live),
        [],
        "two members of four is only half"
    );
}

#[test]
fn unmanaged_users_holding_roles_are_named_with_them_but_not_when_pruned() {
    let live = state(
        vec![
            user("1", json!({"userName": "ada@example.com"})),
            user(
                "2",
                json!({"userName": "root@example.com", "active": false,
                       "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER", "PROCESS_CONTRIBUTOR"]}}),
            ),
            user(
                "3",
                json!({"userName": "plain@example.com", "urn:scim:tonkean": {"tonkeanRoles": []}}),
            ),
        ],
        vec![],
    );
    let yaml = "users:\n  - userName: ada@example.com\n";
    assert_eq!(
        warnings(&with_head(yaml), &live),
        [Warning::UnmanagedRoles {
            user: "root@example.com".to_owned(),
            roles: vec!["PROCESS_CONTRIBUTOR".to_owned(), "SYSTEM_USER".to_owned()],
            active: Some(false),
        }]
    );
    let pruning = load(&format!("{HEAD}    prune: true\n{yaml}"));
    assert_eq!(warnings(&pruning, &live), []);
}

#[test]
fn the_mass_delete_refusal_names_the_first_users() {
    let users: Vec<LiveUser> = (0..20)
        .map(|i| {
            user(
                &i.to_string(),
                json!({"userName": format!("u{i:02}@example.com"), "active": true}),
            )
        })
        .collect();
    let live = state(users, vec![]);
    let pruning = load(&format!(
        "{HEAD}    prune: true\nusers:\n  - userName: u00@example.com\n"
    ));
    let err = try_run(&pruning, &live, true).unwrap_err();
    assert!(
        err.to_string().contains(
            "allows: u01@example.com, u02@example.com, u03@example.com, u04@example.com, \
             u05@example.com, u06@example.com, u07@example.com, u08@example.com, \
             u09@example.com, u10@example.com and 9 more; check the config"
        ),
        "{err}"
    );
}
