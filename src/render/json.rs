//! The JSON plan document: `--format json` and the file `plan --out` saves are the same
//! document, so a tool needs one reader for both. It is the [`Plan`] serialized as it is, plus
//! a top-level `summary` with the counts the text format prints. `docs/plan-json.md` describes
//! it field by field, with the versioning policy: fields may be added within a
//! `format_version`; any other change bumps it.

use serde::{Deserialize, Serialize};

use crate::plan::{FORMAT_VERSION, Plan, Summary};

/// The document: the plan's own fields, then the summary. A reader of saved plans ignores the
/// summary, which is derived from the ops.
#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    summary: Summary,
}

/// The plan as a pretty-printed JSON document, without a trailing newline.
#[must_use]
pub fn to_json(plan: &Plan) -> String {
    let document = Document {
        plan,
        summary: plan.summary(),
    };
    serde_json::to_string_pretty(&document)
        .expect("a plan holds only strings, numbers and JSON values, all serializable")
}

/// Why a JSON document could not be read as a plan.
#[derive(Debug, thiserror::Error)]
pub enum JsonPlanError {
    /// Not JSON, or not shaped like a plan of the version it claims.
    #[error("not a scimform plan: {0}")]
    Invalid(#[source] serde_json::Error),
    /// Written by a scimform whose plan format this one does not read.
    #[error(
        "the plan has format_version {found}, but this scimform reads format_version {supported}; \
         plan again with this version"
    )]
    UnsupportedVersion { found: u64, supported: u32 },
}

/// Reads a plan document written by [`to_json`] (a saved plan or `--format json` output).
///
/// The version is checked before anything else, so a plan from another release is refused with
/// that reason rather than with whatever field it happens to trip on.
pub fn parse_json(text: &str) -> Result<Plan, JsonPlanError> {
    #[derive(Deserialize)]
    struct Version {
        format_version: u64,
    }
    let Version { format_version } = serde_json::from_str(text).map_err(JsonPlanError::Invalid)?;
    if format_version != u64::from(FORMAT_VERSION) {
        return Err(JsonPlanError::UnsupportedVersion {
            found: format_version,
            supported: FORMAT_VERSION,
        });
    }
    serde_json::from_str(text).map_err(JsonPlanError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;
    use super::*;

    #[test]
    fn two_providers() {
        insta::assert_snapshot!(to_json(&fixtures::two_providers()));
    }

    #[test]
    fn empty_plan() {
        insta::assert_snapshot!(to_json(&fixtures::empty()));
    }

    #[test]
    fn reads_back_what_it_writes() {
        for plan in [fixtures::two_providers(), fixtures::empty()] {
            assert_eq!(parse_json(&to_json(&plan)).unwrap(), plan);
        }
    }

    #[test]
    fn the_summary_is_the_plans() {
        let plan = fixtures::two_providers();
        let document: serde_json::Value = serde_json::from_str(&to_json(&plan)).unwrap();
        assert_eq!(
            serde_json::from_value::<Summary>(document["summary"].clone()).unwrap(),
            plan.summary()
        );
    }

    const DOC: &str = include_str!("../../docs/plan-json.md");

    #[test]
    fn the_documented_example_is_a_plan() {
        let start = DOC.find("```json\n").expect("an example") + "```json\n".len();
        let end = start + DOC[start..].find("```").expect("a closed example");
        let plan = parse_json(&DOC[start..end]).unwrap();
        assert_eq!(plan.summary().deactivate, 1);
    }

    #[test]
    fn every_field_is_documented() {
        fn keys(value: &serde_json::Value, out: &mut Vec<String>) {
            if let serde_json::Value::Object(map) = value {
                for (key, item) in map {
                    out.push(key.clone());
                    // Request bodies and attribute values are SCIM's, not the document's;
                    // the keys of `config_files` are the config's file names.
                    if !matches!(key.as_str(), "body" | "old" | "new" | "config_files") {
                        keys(item, out);
                    }
                }
            } else if let serde_json::Value::Array(items) = value {
                for item in items {
                    keys(item, out);
                }
            }
        }
        let document: serde_json::Value =
            serde_json::from_str(&to_json(&fixtures::two_providers())).unwrap();
        let mut found = Vec::new();
        keys(&document, &mut found);
        for key in found {
            assert!(
                DOC.contains(&format!("`{key}`")) || DOC.contains(&format!(".{key}`")),
                "docs/plan-json.md does not describe `{key}`"
            );
        }
    }

    #[test]
    fn refuses_other_versions_by_their_version() {
        // Version 1, whose config digest covered the files' bytes, and a version to come.
        for found in [1, FORMAT_VERSION + 1] {
            let mut document: serde_json::Value =
                serde_json::from_str(&to_json(&fixtures::two_providers())).unwrap();
            document["format_version"] = found.into();
            document["providers"] = "reshaped in another version".into();
            let error = parse_json(&document.to_string()).unwrap_err();
            assert!(
                matches!(
                    error,
                    JsonPlanError::UnsupportedVersion {
                        found: f,
                        supported: FORMAT_VERSION
                    } if f == u64::from(found)
                ),
                "{error}"
            );
        }
        assert!(matches!(
            parse_json("{\"providers\": []}"),
            Err(JsonPlanError::Invalid(_))
        ));
    }
}
