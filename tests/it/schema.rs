//! The committed JSON Schema (README, Editor support).

use crate::support::{root, run, scimform};

const SCHEMA_PATH: &str = "schema/scimform.schema.json";

#[test]
fn committed_schema_is_fresh() {
    let committed = std::fs::read_to_string(root().join(SCHEMA_PATH)).unwrap_or_default();
    let generated = scimform::config::json_schema();
    assert!(
        committed == generated,
        "{SCHEMA_PATH} is stale; regenerate it with:\n\n    cargo run -- schema > {SCHEMA_PATH}\n"
    );
}

#[test]
fn schema_lists_every_profile_as_a_preset() {
    let schema: serde_json::Value =
        serde_json::from_str(&scimform::config::json_schema()).expect("the schema is JSON");
    let presets: Vec<&str> = schema["$defs"]["Preset"]["oneOf"]
        .as_array()
        .expect("Preset is a oneOf")
        .iter()
        .filter_map(|variant| variant["const"].as_str())
        .collect();
    let profiles: Vec<&str> = scim::profile::PROFILES.iter().map(|p| p.name).collect();
    assert_eq!(presets, profiles);
}

#[test]
fn schema_command_prints_the_schema() {
    let out = run(scimform().arg("schema"));
    assert_eq!(out.code, Some(0));
    assert_eq!(out.stdout, scimform::config::json_schema());
}

#[test]
fn schema_rejects_unknown_keys() {
    let schema: serde_json::Value =
        serde_json::from_str(&scimform::config::json_schema()).expect("the schema is JSON");
    assert_eq!(schema["additionalProperties"], false, "top level");
    for definition in [
        "Provider",
        "RoleDefinition",
        "MaxChanges",
        "User",
        "Name",
        "MultiValueObject",
        "Group",
        "RoleAssignment",
    ] {
        assert_eq!(
            schema["$defs"][definition]["additionalProperties"], false,
            "{definition} must reject unknown keys"
        );
    }
    assert_eq!(
        schema["$defs"]["User"]["required"],
        serde_json::json!(["userName"])
    );
    assert_eq!(schema["properties"]["version"]["const"], 1);
}

#[test]
fn schema_and_loader_agree_on_top_level_keys() {
    let schema: serde_json::Value =
        serde_json::from_str(&scimform::config::json_schema()).expect("the schema is JSON");
    let mut in_schema: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut in_loader = scimform::config::written::TOP_LEVEL_KEYS.to_vec();
    in_schema.sort_unstable();
    in_loader.sort_unstable();
    assert_eq!(in_schema, in_loader);
}

#[test]
fn examples_point_at_the_committed_schema() {
    for entry in walk(&root().join("examples")) {
        let text = std::fs::read_to_string(&entry).unwrap();
        let first = text.lines().next().unwrap_or_default();
        let reference = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{} must start with the schema comment", entry.display()));
        let target = entry.parent().unwrap().join(reference);
        assert!(
            target.canonicalize().ok() == root().join(SCHEMA_PATH).canonicalize().ok(),
            "{} points at {reference}, not at {SCHEMA_PATH}",
            entry.display()
        );
    }
}

/// Every YAML file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        // CI workflows are not config and follow GitHub's schema: tests/it/gitops.rs checks them.
        if path.ends_with("examples/github-actions") {
            continue;
        }
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            files.push(path);
        }
    }
    files
}
