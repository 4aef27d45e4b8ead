//! Reading live groups: members, whether they were shown, and what is kept.

use serde_json::json;

use super::*;
use crate::client::ListPage;

/// The groups a page holding `items` lists, read as a listing reads them.
fn listed(items: &str, keep: Keep) -> Result<Vec<LiveGroup>, String> {
    let text = format!(r#"{{"totalResults": 9, "Resources": [{items}]}}"#);
    ListPage::<LiveGroup>::parse(text.as_bytes(), keep)
        .map(|page| page.resources)
        .map_err(|e| e.to_string())
}

fn ids(members: &[&str]) -> BTreeSet<String> {
    members.iter().map(|m| (*m).to_owned()).collect()
}

#[test]
fn a_listed_group_keeps_its_members_and_says_whether_it_had_them() {
    let groups = listed(
        r#"{"id": "g1", "displayName": "Owners", "externalId": "x", "members": [{"value": "1"},
            {"Value": "2", "value": "3"}, {"VALUE": "4"}, {"value": 5}, 6, "7", null,
            [{"value": "8"}], {"display": "no value"}, {"value": "1", "display": "again"}],
            "meta": {"version": "W/\"1\""}},
           {"id": "g2", "DisplayName": "Empty", "members": null, "groups": []},
           {"id": "g3", "displayName": "Odd", "Members": {"value": "9"}},
           {"id": "g4", "displayName": "Twice", "Members": [{"value": "b"}],
            "members": [{"value": "a"}]},
           {"id": "g5", "displayName": "None"},
           {"id": "g6", "displayName": "Scalar", "members": 3},
           {"id": "g7", "displayName": "Listed empty", "members": []},
           {"displayName": "no id", "members": []}, {"id": "g8"}, 7"#,
        Keep::Managed,
    )
    .unwrap();
    let read: Vec<(&str, &str, bool)> = (groups.iter())
        .map(|g| (g.id.as_str(), g.display_name.as_str(), g.members_listed))
        .collect();
    assert_eq!(
        read,
        [
            ("g1", "Owners", true),
            ("g2", "Empty", false),
            ("g3", "Odd", true),
            ("g4", "Twice", true),
            ("g5", "None", false),
            ("g6", "Scalar", true),
            ("g7", "Listed empty", true),
        ]
    );
    assert_eq!(groups[0].members, ids(&["1", "3", "4"]));
    assert_eq!(groups[0].external_id.as_deref(), Some("x"));
    assert_eq!(groups[0].version.as_deref(), Some("W/\"1\""));
    assert!(groups[2].members.is_empty());
    assert_eq!(groups[3].members, ids(&["a"]), "the exact spelling wins");
    assert!(groups.iter().all(|g| g.resource.is_none()));
    assert_eq!(
        groups[0].to_json(),
        json!({"displayName": "Owners", "externalId": "x",
               "members": [{"value": "1"}, {"value": "3"}, {"value": "4"}]})
    );
    assert_eq!(groups[4].to_json(), json!({"displayName": "None"}));
}

#[test]
fn a_group_read_whole_keeps_the_resource_without_meta() {
    let resource = json!({
        "id": "g", "displayName": "Owners", "members": [{"value": "1", "display": "ada"}],
        "META": {"version": "W/\"9\""}, "owner": "someone",
    });
    let group = LiveGroup::from_value(&resource, Keep::Whole).unwrap();
    assert_eq!(group.version.as_deref(), Some("W/\"9\""));
    assert_eq!(
        group.whole_resource(),
        json!({"id": "g", "displayName": "Owners",
               "members": [{"value": "1", "display": "ada"}], "owner": "someone"})
    );
    let listed = listed(&resource.to_string(), Keep::Whole).unwrap();
    assert_eq!(listed[0].whole_resource(), group.whole_resource());
    assert_eq!(group.hash(), super::super::resource_hash(&resource));
    let managed = LiveGroup::from_value(&resource, Keep::Managed).unwrap();
    assert!(managed.resource.is_none());
    assert_ne!(managed.hash(), group.hash());
    assert!(LiveGroup::from_value(&json!({"displayName": "no id"}), Keep::Whole).is_none());
}

#[test]
fn a_number_that_overflows_f64_in_a_group_refuses_the_page() {
    for item in [
        r#"{"id": "g", "displayName": "G", "members": [], "meta": 1e400}"#,
        r#"{"id": "g", "displayName": "G", "members": [{"value": "1", "n": 1e400}]}"#,
    ] {
        for keep in [Keep::Managed, Keep::Whole] {
            let error = listed(item, keep).unwrap_err();
            assert!(
                error.starts_with("a number that overflows f64"),
                "{item}: {error}"
            );
        }
    }
}
