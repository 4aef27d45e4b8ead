//! `scimform validate`: every config check, offline.

use super::{Error, github_annotations, keep_until_exit, print_stdout, report_diagnostics};
use crate::cli::{ValidateArgs, ValidateFormat};
use crate::config;

pub fn run(args: &ValidateArgs) -> Result<(), Error> {
    let loaded = config::load(args.config.path(), &args.config.load_options());
    let diagnostics = match loaded {
        Ok(config) => {
            let config = keep_until_exit(config);
            let counts = [
                ("providers", config.providers().len()),
                ("users", config.users().len()),
                ("groups", config.groups().len()),
                ("role_assignments", config.roles().len()),
            ];
            return match args.format {
                ValidateFormat::Json => print_stdout(&json(&[], Some(&counts))),
                ValidateFormat::Text | ValidateFormat::Github => {
                    let count = |n: usize, what: &str| {
                        format!("{n} {what}{}", if n == 1 { "" } else { "s" })
                    };
                    print_stdout(&format!(
                        "{} is valid: {}, {}, {}, {}\n",
                        args.config.path().display(),
                        count(counts[0].1, "provider"),
                        count(counts[1].1, "user"),
                        count(counts[2].1, "group"),
                        count(counts[3].1, "role assignment"),
                    ))
                }
            };
        }
        Err(errors) => errors.0,
    };
    match args.format {
        // `Error::Config` reports the text, and in GitHub Actions the annotations too.
        ValidateFormat::Text => Err(diagnostics.into()),
        ValidateFormat::Json => {
            print_stdout(&json(&diagnostics, None))?;
            Err(Error::Reported)
        }
        ValidateFormat::Github => {
            print_stdout(&github_annotations(&diagnostics))?;
            report_diagnostics(&diagnostics);
            Err(Error::Reported)
        }
    }
}

/// `{"valid": …, "errors": […], "counts": {…}}`, one line.
fn json(diagnostics: &[config::Diagnostic], counts: Option<&[(&str, usize)]>) -> String {
    let mut object = serde_json::Map::new();
    object.insert("valid".into(), diagnostics.is_empty().into());
    object.insert(
        "errors".into(),
        diagnostics
            .iter()
            .map(config::Diagnostic::to_json)
            .collect(),
    );
    if let Some(counts) = counts {
        let counts: serde_json::Map<String, serde_json::Value> = counts
            .iter()
            .map(|(name, n)| ((*name).to_owned(), (*n).into()))
            .collect();
        object.insert("counts".into(), counts.into());
    }
    serde_json::Value::Object(object).to_string() + "\n"
}
