//! The config language (README, Config reference): YAML files that declare providers, users, groups
//! and role assignments, read into a validated [`Config`].
//!
//! Loading runs in four steps, each in its own module:
//!
//! 1. [`load`](mod@self::load) reads a file or a folder of files within input budgets, and `yaml`
//!    parses each into a tree of `node`s that remember their spans;
//! 2. `unexpanded` reports every `${...}` written where nothing is expanded (anywhere but a
//!    provider's `url` and `token`), and `collect` deserializes every provider, user, group
//!    and role into the [`written`] types (the file as written, not yet validated) on its own,
//!    so one malformed entry does not hide the others; each file's tree is dropped once its
//!    declarations are collected, before the next file is read;
//! 3. `validate` checks what the declarations mean (names resolve, nothing is declared twice,
//!    role values are allowed) and builds the model ([`Config`]);
//! 4. every problem found along the way is a [`Diagnostic`] pointing into the file; they are
//!    returned together as [`Errors`] and rendered once, by the command line.
//!
//! Provider URLs and tokens stay `${VAR}` templates in the model: `validate` needs no secrets,
//! and only the commands that talk to a server resolve them. They are the only strings where
//! `${VAR}` means a variable; anywhere else it is an error, never text sent as written.

mod collect;
mod diagnostic;
mod interpolate;
pub mod load;
mod managed;
mod meaning;
pub(crate) mod model;
mod node;
mod redact;
pub mod reformat;
mod source;
mod spanned;
mod suggest;
mod unexpanded;
mod validate;
pub mod written;
mod yaml;

use std::path::{Path, PathBuf};

pub use collect::SUPPORTED_VERSION;
pub use diagnostic::{Diagnostic, Errors, Style, render};
pub use interpolate::{MissingVar, Template, TemplateError};
pub use managed::Managed;
pub use model::{
    Config, Deprovision, Endpoint, ExtensionAttribute, Group, GroupKey, MaxChanges, MultiValue,
    Name, Preset, Provider, RequestLimits, RoleAssignment, RoleDefinition, User, UserKey,
};
pub use source::{SourceFile, SourceId, Sources, Span};
pub use spanned::{Spanned, SpannedMap};

/// Choices the command line makes about what a valid config is.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadOptions {
    /// Accept plain `http://` provider URLs to hosts other than loopback (README, Providers).
    pub allow_insecure_http: bool,
}

/// Reads and validates the config at `path`: a file, or a folder whose `*.yaml` and `*.yml`
/// files are merged. Makes no network call and reads no secret.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Config, Errors> {
    load_with(path, &[], options)
}

/// A config file about to be written: what `import` checks before it writes anything.
#[derive(Debug, Clone, Copy)]
pub struct Pending<'a> {
    /// Where it will be written.
    pub path: &'a Path,
    /// What errors call it: its path as the user gave it, or `<stdout>`.
    pub name: &'a str,
    pub text: &'a str,
}

/// Validates the config that `path` will be once the `pending` files are written: [`load`],
/// with each pending file read from memory in place of the file at its path, and the pending
/// files in a folder `path` (existing or not) among the folder's files.
pub fn load_with(
    path: &Path,
    pending: &[Pending<'_>],
    options: &LoadOptions,
) -> Result<Config, Errors> {
    let mut errors = Errors::default();
    let files = load::files_with(path, pending, &mut errors);
    load_files(&files, pending, *options, errors)
}

/// Validates the `pending` files alone, as one config, reading nothing from disk.
pub fn load_pending(pending: &[Pending<'_>], options: &LoadOptions) -> Result<Config, Errors> {
    let files: Vec<PathBuf> = pending.iter().map(|p| p.path.to_owned()).collect();
    load_files(&files, pending, *options, Errors::default())
}

fn load_files(
    files: &[PathBuf],
    pending: &[Pending<'_>],
    options: LoadOptions,
    mut errors: Errors,
) -> Result<Config, Errors> {
    let mut sources = Sources::default();
    let mut declarations = collect::Declarations::new();
    let mut reader = load::Reader::default();
    // One file at a time: a file's node tree takes several times the memory of its
    // declarations, so each goes as soon as they are collected.
    for file in files {
        let text = match pending.iter().find(|p| p.path == file) {
            Some(p) => reader.pending(p, &mut errors),
            None => reader.read(file, &mut errors),
        };
        if let Some(text) = text {
            let document = text.parse(&mut sources, &mut errors);
            unexpanded::check(&document, &sources, &mut errors);
            collect::collect(&mut declarations, &document, &sources, &mut errors);
        } else {
            // What the file declares is unknown: see `Declarations::complete`.
            declarations.complete = false;
        }
    }
    let config = validate::build(declarations, &sources, options, &mut errors);
    if errors.is_empty() {
        Ok(config)
    } else {
        errors.sort();
        Err(errors)
    }
}

/// The JSON Schema of the config format, as committed at `schema/scimform.schema.json`.
#[must_use]
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(written::RawFile);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::written::RawFile;
    use super::{Errors, Sources, load};

    /// The loader reads the top level key by key; `RawFile`, which the schema is generated
    /// from, must read the same files.
    #[test]
    fn raw_file_reads_what_the_loader_reads() {
        for example in ["examples/quickstart.yaml", "examples/tonkean.yaml"] {
            let mut sources = Sources::default();
            let mut errors = Errors::default();
            let text = load::Reader::default()
                .read(Path::new(example), &mut errors)
                .unwrap();
            let document = text.parse(&mut sources, &mut errors);
            assert!(errors.is_empty(), "{example}: {errors}");
            let root = document.root.as_ref().unwrap();
            let raw: RawFile = root.deserialize().unwrap();
            assert_eq!(*raw.version, 1);
            assert!(!raw.users.is_empty());
        }
    }
}
