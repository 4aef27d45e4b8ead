//! Reading live users: what is kept, how attribute names are matched, and what refuses a page.

use scim::attribute;
use serde_json::json;

use super::*;
use crate::client::ListPage;
use crate::random::Lcg;
use crate::state::resource_hash;

/// The users a page holding `items` lists, read as a listing reads them.
fn listed(items: &str, keep: Keep) -> Result<Vec<LiveUser>, String> {
    let text = format!(r#"{{"totalResults": 9, "Resources": [{items}]}}"#);
    ListPage::<LiveUser>::parse(text.as_bytes(), keep)
        .map(|page| page.resources)
        .map_err(|e| e.to_string())
}

/// What a user holds, to compare two readings of it.
fn held(user: &LiveUser) -> (String, Option<String>, Value) {
    (user.id.clone(), user.version.clone(), user.to_json())
}

#[test]
fn a_listed_user_keeps_what_the_diff_needs() {
    let users = listed(
        r#"{"id": "1", "userName": "ada", "externalId": "e1", "title": "Analyst",
            "name": {"givenName": "Ada", "familyName": "Lovelace", "nickname": "x"},
            "displayName": "Ada L.", "nickName": "ada", "userType": "Employee",
            "preferredLanguage": "en", "locale": "en-GB", "timezone": "Europe/London",
            "active": false, "addresses": [{"locality": "London"}],
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true, "display": "A"}],
            "phoneNumbers": [{"value": "+44 20"}],
            "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER"]},
            "meta": {"resourceType": "User", "version": "W/\"3\"", "location": "x"},
            "groups": [{"value": "g", "display": "Owners"}], "schemas": []},
           {"userName": "no id"}, {"id": "2"}, {"id": 3, "userName": "numeric id"},
           7, "x", null, [{"id": "4", "userName": "in an array"}]"#,
        Keep::Managed,
    )
    .unwrap();
    assert_eq!(users.len(), 1, "{users:?}");
    let user = &users[0];
    assert_eq!((user.id.as_str(), user.user_name.as_str()), ("1", "ada"));
    assert_eq!(user.external_id.as_deref(), Some("e1"));
    assert_eq!(user.version.as_deref(), Some("W/\"3\""));
    assert!(user.resource.is_none(), "nothing kept to be sent back");
    assert_eq!(
        user.to_json(),
        json!({
            "userName": "ada", "externalId": "e1", "title": "Analyst",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "displayName": "Ada L.", "nickName": "ada", "userType": "Employee",
            "preferredLanguage": "en", "locale": "en-GB", "timezone": "Europe/London",
            "active": false,
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
            "phoneNumbers": [{"value": "+44 20"}],
            "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER"]},
        })
    );
}

#[test]
fn a_user_read_whole_keeps_the_resource_without_what_is_read_only() {
    let resource = json!({
        "id": "1", "userName": "ada", "addresses": [{"locality": "London"}],
        "Meta": {"version": "W/\"1\""}, "GROUPS": [{"value": "g"}],
    });
    let whole = LiveUser::from_value(&resource, Keep::Whole).unwrap();
    assert_eq!(
        whole.whole_resource(),
        json!({"id": "1", "userName": "ada", "addresses": [{"locality": "London"}]})
    );
    let listed = listed(&resource.to_string(), Keep::Whole).unwrap();
    assert_eq!(listed[0].whole_resource(), whole.whole_resource());
    assert_eq!(listed[0].version.as_deref(), Some("W/\"1\""));

    // The hash covers what was read: the whole resource when kept, else the attributes.
    let managed = LiveUser::from_value(&resource, Keep::Managed).unwrap();
    assert_eq!(whole.hash(), resource_hash(&resource));
    assert_ne!(managed.hash(), whole.hash());
    let mut moved = resource.clone();
    moved["addresses"] = json!([]);
    assert_eq!(
        LiveUser::from_value(&moved, Keep::Managed).unwrap().hash(),
        managed.hash()
    );
    assert_ne!(
        LiveUser::from_value(&moved, Keep::Whole).unwrap().hash(),
        whole.hash()
    );
    moved["userName"] = json!("bob");
    assert_ne!(
        LiveUser::from_value(&moved, Keep::Managed).unwrap().hash(),
        managed.hash()
    );
}

#[test]
fn a_resource_hash_leaves_out_meta_and_groups_in_any_case() {
    let bare = json!({"userName": "ada", "active": true, "name": {"givenName": "Ada"}});
    let mut listed = bare.clone();
    listed["Meta"] = json!({"version": "W/\"3\""});
    listed["groups"] = json!([{"value": "g1"}]);
    assert_eq!(resource_hash(&listed), resource_hash(&bare));
    assert_eq!(
        resource_hash(&bare),
        crate::digest::sha256_hex(bare.to_string().as_bytes())
    );
    assert_ne!(
        resource_hash(&bare),
        resource_hash(&json!({"userName": "ada"}))
    );
}

#[test]
fn an_attribute_written_under_two_spellings_is_read_once_by_the_rule() {
    let users = listed(
        r#"{"ID": "upper", "id": "1", "USERNAME": "ada", "TITLE": "Analyst", "title": "Lead",
            "Meta": {"Version": "W/\"2\"", "VERSION": "W/\"3\""},
            "NAME": {"GIVENNAME": "A", "GivenName": "B"}, "name": {"givenName": "C"},
            "Emails": [{"Value": "x@example.com"}],
            "URN:SCIM:TONKEAN": {"tonkeanRoles": ["A"]},
            "urn:scim:tonkean": {"TONKEANROLES": ["B"], "tonkeanRoles": ["C"]}},
           {"id": "2", "userName": "bob", "title": null, "Title": "Lead",
            "active": true, "ACTIVE": false, "Active": "false"}"#,
        Keep::Managed,
    )
    .unwrap();
    let (ada, bob) = (&users[0], &users[1]);
    assert_eq!((ada.id.as_str(), ada.user_name.as_str()), ("1", "ada"));
    assert_eq!(ada.attributes.title.as_deref(), Some("Lead"));
    // No `version` in the exact spelling: the spelling that sorts first.
    assert_eq!(ada.version.as_deref(), Some("W/\"3\""));
    assert_eq!(ada.attributes.name.given_name.as_deref(), Some("C"));
    assert_eq!(
        ada.attributes.emails[0].value.as_deref(),
        Some("x@example.com")
    );
    assert_eq!(
        ada.attributes.extension("urn:scim:tonkean", "tonkeanRoles"),
        Some(&json!(["C"]))
    );
    assert_eq!(
        ada.attributes.extension("URN:SCIM:TONKEAN", "TONKEANROLES"),
        Some(&json!(["A"]))
    );
    // The exact spelling is read even when it is unassigned.
    assert_eq!(bob.attributes.title, None);
    assert_eq!(bob.attributes.active, Some(true));
}

/// Writes `members` as a JSON object, in this order, repeats included.
fn object_text(members: &[(String, Value)]) -> String {
    let members: Vec<String> = (members.iter())
        .map(|(key, value)| format!("{}: {value}", Value::from(key.as_str())))
        .collect();
    format!("{{{}}}", members.join(", "))
}

/// A spelling of `name`: as it is, or with some letters' case changed.
fn spelling(rng: &mut Lcg, name: &str) -> String {
    if rng.chance(50) {
        return name.to_owned();
    }
    name.chars()
        .map(|c| {
            if rng.chance(50) {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

fn random_value(rng: &mut Lcg, name: &str) -> Value {
    let strings = ["", "x", "Ada \"A\"", "ü@example.com", "true"];
    let object = |rng: &mut Lcg, parts: &[&str]| {
        let mut members = Map::new();
        for _ in 0..rng.below(4) {
            let part = *rng.pick(parts);
            let key = spelling(rng, part);
            let value = if part == "primary" {
                json!(rng.chance(50))
            } else {
                json!(rng.pick(&strings))
            };
            members.insert(key, value);
        }
        Value::Object(members)
    };
    match name {
        "active" => rng
            .pick(&[json!(true), json!(false), json!("true"), json!(null)])
            .clone(),
        "name" => object(rng, &["givenName", "familyName", "formatted", "x"]),
        "meta" => object(rng, &["version", "location"]),
        "emails" => Value::Array(
            (0..rng.below(3))
                .map(|_| object(rng, &["value", "type", "primary"]))
                .collect(),
        ),
        "urn:scim:tonkean" => {
            let roles = rng.pick(&[json!(["A"]), json!([]), json!(null)]).clone();
            let mut members = Map::new();
            members.insert(spelling(rng, "tonkeanRoles"), roles);
            Value::Object(members)
        }
        _ if rng.chance(10) => rng
            .pick(&[json!(7), json!(null), json!(["x"]), json!({"a": 1})])
            .clone(),
        _ => json!(rng.pick(&strings)),
    }
}

/// Whatever the spellings, repeats and order of a user's members, a page streamed member by
/// member, the same JSON read as a `Value`, and the rule applied to the members as written
/// all read the same attributes.
#[test]
fn streamed_and_tree_readings_agree_with_the_rule() {
    let names = [
        "id",
        "userName",
        "externalId",
        "title",
        "displayName",
        "locale",
        "active",
        "name",
        "meta",
        "emails",
        "urn:scim:tonkean",
    ];
    let mut rng = Lcg(20_270_101);
    let mut spellings_met = 0;
    for _ in 0..1_500 {
        let mut members = vec![
            ("id".to_owned(), json!("1")),
            ("userName".to_owned(), json!("ada")),
        ];
        for _ in 0..rng.below(12) {
            let name = *rng.pick(&names);
            let key = spelling(&mut rng, name);
            spellings_met += usize::from(key != name);
            let value = random_value(&mut rng, name);
            members.push((key, value));
        }
        // Any order.
        for i in (1..members.len()).rev() {
            members.swap(i, rng.below(i + 1));
        }
        let text = object_text(&members);
        let tree: Value = serde_json::from_str(&text).unwrap();
        let from_tree = LiveUser::from_value(&tree, Keep::Managed);
        let streamed = listed(&text, Keep::Managed).unwrap();
        assert_eq!(
            from_tree.as_ref().map(held),
            streamed.first().map(held),
            "{text}"
        );
        // The rule, applied to the members as written.
        let title = attribute::find(members.iter().map(|(k, v)| (k.as_str(), v)), "title");
        let expected = title.and_then(Value::as_str).filter(|s| !s.is_empty());
        if let Some(user) = &from_tree {
            assert_eq!(user.attributes.title.as_deref(), expected, "{text}");
        }
    }
    assert!(spellings_met > 1_000, "{spellings_met}");
}

#[test]
fn items_of_a_multi_valued_attribute_are_read_as_they_are_held() {
    let users = listed(
        r#"{"id": "1", "userName": "ada", "emails": [
             {"value": "A@x", "type": "work", "primary": true},
             {"Value": "b@x", "primary": "true"},
             {"value": 3, "type": null},
             "c@x",
             {"value": "", "primary": false}],
           "phoneNumbers": {"value": "+1"}}"#,
        Keep::Managed,
    )
    .unwrap();
    let item = |value: Option<&str>, kind: Option<&str>, primary| Item {
        value: value.map(Into::into),
        kind: kind.map(Into::into),
        primary,
    };
    assert_eq!(
        *users[0].attributes.emails,
        [
            item(Some("A@x"), Some("work"), Some(true)),
            item(Some("b@x"), None, None),
            item(None, None, None),
            item(None, None, None),
            item(Some(""), None, Some(false)),
        ]
    );
    assert!(users[0].attributes.phone_numbers.is_empty());
}

#[test]
fn role_values_are_strings_or_objects_holding_one() {
    for (roles, expected) in [
        (
            json!(["A", {"value": "B"}, {"Value": "E"}, {"value": 3}, 4, null, "A", "C\"D"]),
            &["A", "B", "C\"D", "E"][..],
        ),
        (json!([]), &[]),
        (json!("A"), &[]),
        (json!({"value": "A"}), &[]),
        (json!(null), &[]),
    ] {
        let resource =
            json!({"id": "1", "userName": "ada", "urn:scim:tonkean": {"tonkeanRoles": roles}});
        let user = LiveUser::from_value(&resource, Keep::Managed).unwrap();
        let held: Vec<String> = user
            .roles("urn:scim:tonkean", "tonkeanRoles")
            .into_iter()
            .collect();
        assert_eq!(held, expected, "{roles}");
    }
}

#[test]
fn core_roles_and_entitlements_are_read_where_a_role_definition_finds_them() {
    for keep in [Keep::Managed, Keep::Whole] {
        let users = listed(
            r#"{"id": "1", "userName": "ada", "Roles": [{"value": "user", "primary": true}],
                "entitlements": [{"value": "allow-cluster-create"}],
                "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER"]}}"#,
            keep,
        )
        .unwrap();
        let user = &users[0];
        let held = |schema: &str, attribute: &str| -> Vec<String> {
            user.roles(schema, attribute).into_iter().collect()
        };
        assert_eq!(held(scim::urn::USER, "roles"), ["user"]);
        assert_eq!(
            held(scim::urn::USER, "entitlements"),
            ["allow-cluster-create"]
        );
        assert_eq!(held("urn:scim:tonkean", "tonkeanRoles"), ["SYSTEM_USER"]);
    }
}

#[test]
fn unassigned_values_and_values_of_another_type_are_absent() {
    let users = listed(
        r#"{"id": "1", "userName": "ada", "title": "", "nickName": null, "displayName": 5,
            "locale": ["en"], "active": "true", "name": {"givenName": "", "familyName": 7},
            "emails": [], "externalId": ""}"#,
        Keep::Managed,
    )
    .unwrap();
    let user = &users[0];
    assert_eq!(user.attributes, UserAttributes::default());
    assert_eq!(user.attributes.name.to_json(), None);
    // An empty externalId is kept as the server holds it: matching reads it as it is.
    assert_eq!(user.external_id.as_deref(), Some(""));
}

#[test]
fn a_number_that_overflows_f64_in_a_user_refuses_the_page() {
    for item in [
        r#"{"id": "1", "userName": "ada", "title": 1e400}"#,
        r#"{"id": "1", "userName": "ada", "meta": {"version": 1e400}}"#,
        r#"{"id": "1", "userName": "ada", "addresses": [{"n": -2E+999}]}"#,
        r#"{"id": "1", "userName": "ada", "urn:x": {"y": 1e400}}"#,
        r#"{"id": "1", "userName": "ada"}, 1e400"#,
    ] {
        for keep in [Keep::Managed, Keep::Whole] {
            let error = listed(item, keep).unwrap_err();
            assert!(
                error.starts_with("a number that overflows f64"),
                "{item}: {error}"
            );
        }
    }
    let users = listed(
        r#"{"id": "1", "userName": "ada", "n": 1.5e300}"#,
        Keep::Whole,
    )
    .unwrap();
    assert_eq!(users[0].whole_resource()["n"], json!(1.5e300));
}
