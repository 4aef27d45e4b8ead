//! Import round trips without a server: a generated live state is imported, the text loaded as
//! config, and diffed against the same state. The diff must be empty.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;
use crate::client::{Capabilities, Keep};
use crate::config::{self, LoadOptions};
use crate::diff::{self, Options};
use crate::state::{LiveGroup, LiveState, LiveUser};

use crate::random::{FAMILY, GIVEN, LOCALES, Lcg, ROLES, TIMEZONES};

fn live_state(seed: u64) -> LiveState {
    let mut rng = Lcg(seed);
    let mut users = Vec::new();
    let count = 1 + rng.below(25);
    for i in 0..count {
        let given = rng.pick(GIVEN);
        let family = rng.pick(FAMILY);
        let user_name = format!("user{i}.{}@example.com", rng.below(1000));
        let mut resource = json!({
            "id": format!("id-{seed}-{i}"),
            "userName": user_name,
            "name": {"givenName": given, "familyName": family},
            "displayName": format!("{given} {family}"),
            "active": !rng.chance(25),
        });
        if rng.chance(60) {
            resource["emails"] = json!([
                {"value": user_name.to_uppercase(), "type": "work", "primary": true},
                {"value": format!("home{i}@example.org")},
            ]);
        }
        if rng.chance(50) {
            resource["phoneNumbers"] =
                json!([{"value": format!("+1 555 01{:02}", rng.below(100)), "type": "mobile"}]);
        }
        if rng.chance(50) {
            resource["locale"] = json!(rng.pick(LOCALES));
            resource["preferredLanguage"] = json!(rng.pick(LOCALES));
            resource["timezone"] = json!(rng.pick(TIMEZONES));
        }
        if rng.chance(30) {
            resource["externalId"] = json!(format!("00u{}", rng.below(100_000)));
        }
        if rng.chance(30) {
            resource["title"] = json!("");
            resource["nickName"] = json!("yes");
        }
        let roles: Vec<&str> = ROLES.iter().copied().filter(|_| rng.chance(40)).collect();
        resource["urn:scim:tonkean"] = json!({"tonkeanRoles": roles});
        if rng.chance(30) {
            resource["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = json!({"employeeNumber": format!("{}", rng.below(10_000)), "department": "R&D: core"});
        }
        users.push(LiveUser::from_value(&resource, Keep::Managed).expect("a user"));
    }
    let mut groups = Vec::new();
    for g in 0..rng.below(6) {
        let members: BTreeSet<String> = users
            .iter()
            .filter(|_| rng.chance(35))
            .map(|u| u.id.clone())
            .collect();
        let display_name = format!("{} {g}", rng.pick(&["Owners", "Équipe", "no", "x: y"]));
        groups.push(LiveGroup {
            id: format!("g-{g}"),
            display_name,
            members,
            members_listed: true,
            ..LiveGroup::default()
        });
    }
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

fn block() -> ProviderBlock {
    ProviderBlock {
        name: "local".into(),
        url: "embedded:store".into(),
        token: TokenRef::None,
        auth_scheme: None,
        preset: Some(Preset::Tonkean),
        roles: None,
        prune: true,
        deprovision: Deprovision::Deactivate,
        max_changes: MaxChanges::default(),
        requests: RequestLimits::default(),
    }
}

fn assert_round_trip(live: &LiveState, text: &str, path: &std::path::Path) {
    let config = config::load(path, &LoadOptions::default()).unwrap_or_else(|errors| {
        panic!(
            "{}\n{text}",
            config::render(&errors.0, config::Style::Plain)
        )
    });
    let provider = config.provider("local").unwrap();
    let (ops, _) = diff::diff(
        &config,
        provider,
        live,
        &Capabilities::default(),
        Options::default(),
    )
    .unwrap();
    let keys: Vec<(&str, &Vec<crate::plan::Change>)> = ops
        .iter()
        .map(|op| (op.key.as_str(), &op.changes))
        .collect();
    assert!(ops.is_empty(), "{keys:#?}\n{text}");
}

#[test]
fn generated_directories_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for seed in 0..40 {
        let live = live_state(seed);
        let imported = import(&block(), &live);
        assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
        let text = imported.single_file("scimform.schema.json");
        let path = dir.path().join(format!("seed{seed}.yaml"));
        std::fs::write(&path, &text).unwrap();
        assert_round_trip(&live, &text, &path);

        let folder = dir.path().join(format!("folder{seed}"));
        std::fs::create_dir(&folder).unwrap();
        for (name, text) in imported.folder("scimform.schema.json") {
            std::fs::write(folder.join(name), text).unwrap();
        }
        assert_round_trip(&live, &text, &folder);
    }
}

#[test]
fn the_output_does_not_depend_on_the_servers_order() {
    let live = live_state(7);
    let mut shuffled = live.clone();
    shuffled.users.reverse();
    shuffled.groups.reverse();
    assert_eq!(import(&block(), &live), import(&block(), &shuffled));
}

#[test]
fn roles_go_through_groups_whose_members_all_hold_them() {
    let user = |id: &str, roles: &[&str]| {
        let resource = json!({"id": id, "userName": format!("{id}@example.com"), "urn:scim:tonkean": {"tonkeanRoles": roles}});
        LiveUser::from_value(&resource, Keep::Managed).unwrap()
    };
    let group = |name: &str, members: &[&str]| LiveGroup {
        id: name.into(),
        display_name: name.into(),
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        members_listed: true,
        ..LiveGroup::default()
    };
    let live = LiveState {
        users: vec![
            user("ada", &["SYSTEM_USER", "PROCESS_CONTRIBUTOR"]),
            user("bob", &["PROCESS_CONTRIBUTOR"]),
            user("cy", &["PROCESS_CONTRIBUTOR"]),
            user("dee", &[]),
        ],
        groups: vec![
            group("Owners", &["ada", "bob"]),
            group("Mixed", &["cy", "dee"]),
            group("Empty", &[]),
        ],
        ..LiveState::default()
    };
    let imported = import(&block(), &live);
    assert_eq!(
        imported.roles,
        "roles:
  PROCESS_CONTRIBUTOR:
    groups:
      - Owners
    users:
      - cy@example.com
  SYSTEM_USER:
    users:
      - ada@example.com
"
    );
    assert!(
        imported
            .groups
            .contains("  - displayName: Empty\n    members: []\n")
    );
}

#[test]
fn a_role_the_provider_does_not_allow_is_reported() {
    let live = LiveState {
        users: vec![
            LiveUser::from_value(
                &json!({"id": "1", "userName": "ada@example.com", "urn:scim:tonkean": {"tonkeanRoles": ["ADMIN"]}}),
                Keep::Managed,
            )
            .unwrap(),
        ],
        ..LiveState::default()
    };
    let imported = import(&block(), &live);
    assert_eq!(imported.warnings.len(), 1);
    assert!(imported.warnings[0].contains("ADMIN"));
}

#[test]
fn paths_are_made_relative_to_the_written_config() {
    assert_eq!(
        rebase(Path::new("/a/b/store"), Path::new("/a/c")),
        "../b/store"
    );
    assert_eq!(
        rebase(Path::new("/a/b/./store"), Path::new("/a/b")),
        "store"
    );
    assert_eq!(rebase(Path::new("/a/b"), Path::new("/a/b")), ".");
}

/// The shape of an imported config, for review: every kind of attribute, quoting, roles
/// through a group and directly, an empty group.
#[test]
fn the_written_config_reads_like_a_hand_written_one() {
    let ada = json!({
        "id": "1", "userName": "ada@example.com",
        "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": ""},
        "displayName": "Ada Lovelace", "nickName": "yes", "title": "Lead: data",
        "userType": "Employee", "preferredLanguage": "en-GB", "locale": "en-GB",
        "timezone": "Europe/London", "active": true,
        "emails": [
            {"value": "ada@home.example", "type": "home"},
            {"value": "ada@example.com", "type": "work", "primary": true}
        ],
        "phoneNumbers": [{"value": "+44 20 7946 0000"}],
        "externalId": "00u1",
        "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER", "PROCESS_CONTRIBUTOR"]},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "0042", "costCenter": "", "manager": {"value": "2"}
        },
        "meta": {"resourceType": "User", "version": "W/\"1\""}
    });
    let zoe = json!({
        "id": "2", "userName": "zoë@example.com", "active": false,
        "name": {"givenName": "Zoë", "familyName": "#1"},
        "urn:scim:tonkean": {"tonkeanRoles": ["PROCESS_CONTRIBUTOR"]}
    });
    let user = |resource: &Value| LiveUser::from_value(resource, Keep::Managed).unwrap();
    let group = |name: &str, members: &[&str]| LiveGroup {
        id: name.into(),
        display_name: name.into(),
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        members_listed: true,
        ..LiveGroup::default()
    };
    let live = LiveState {
        users: vec![user(&zoe), user(&ada)],
        groups: vec![group("Process Owners", &["1", "2"]), group("no", &[])],
        ..LiveState::default()
    };
    let mut provider = block();
    provider.url = "https://tonkean.example.com/scim/v2".into();
    provider.token = TokenRef::Template("${TONKEAN_SCIM_TOKEN}".into());
    provider.prune = false;
    let imported = import(&provider, &live);
    insta::assert_snapshot!(imported.single_file("../schema/scimform.schema.json"));
}

/// A provider's `rate_limit`, `retry` and `limits` are written so that the imported config
/// sends its requests as the source config did; a rate the preset gives is not written.
#[test]
fn request_settings_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("scimform.yaml");
    let load = |path: &Path| {
        config::load(path, &LoadOptions::default())
            .unwrap_or_else(|errors| panic!("{}", config::render(&errors.0, config::Style::Plain)))
    };
    for (preset, settings, written) in [
        (
            "",
            "    rate_limit: 100/min\n    retry: {attempts: 3, deadline: 1m 30s}\n    \
             limits: {response_size: 200 MB, listing_requests: 500, listing_time: 1h}\n",
            &[
                "rate_limit: 100/min",
                "attempts: 3",
                "deadline: 1m 30s",
                "response_size: 200000000 B",
                "listing_requests: 500",
                "listing_time: 1h",
            ][..],
        ),
        (
            "    preset: slack\n",
            "    limits: {response_size: 1 GiB}\n",
            &["response_size: 1 GiB"][..],
        ),
        (
            "    preset: slack\n",
            "    rate_limit: 0.5/s\n",
            &["rate_limit: 30/min"][..],
        ),
    ] {
        std::fs::write(
            &source,
            format!(
                "version: 1\nproviders:\n  local:\n    url: embedded:store\n{preset}{settings}"
            ),
        )
        .unwrap();
        let config = load(&source);
        let provider = config.provider("local").unwrap();
        let block = ProviderBlock::from_config(provider, dir.path());
        let text = provider_text(&block);
        for line in written {
            assert!(text.contains(line), "{line:?} in:\n{text}");
        }
        // The preset's own rate is the preset's to give.
        assert_eq!(
            text.contains("rate_limit"),
            settings.contains("rate_limit"),
            "{text}"
        );
        let copy = dir.path().join("imported.yaml");
        std::fs::write(&copy, format!("version: 1\n{text}")).unwrap();
        let reread = load(&copy);
        assert_eq!(
            reread.provider("local").unwrap().request_limits(),
            provider.request_limits(),
            "{text}"
        );
    }
}
