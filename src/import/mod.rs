//! Import (README, Import and disaster recovery): what a server holds, written back as config, such
//! that `plan` on the written config against the same server finds nothing to do.
//!
//! The round trip is exact because the writer follows the diff's own rules: it writes every
//! attribute the diff manages that the server holds (and no blank one, since the diff reads a
//! blank value as absent), `type` and `primary` of emails and phone numbers whenever the
//! server has them, each group's complete member list, and each user's complete role set. A
//! role is assigned through a group when every member of that group holds it, and directly to
//! the holders no such group covers, so that every user's effective roles are exactly the ones
//! the server holds.
//!
//! The output is a function of the directory alone (users, groups, members and role values
//! sorted; server ids and order left out), so importing an unchanged directory again gives the
//! same bytes, and a change on the server shows as a small diff in git.

pub mod yaml;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use scim::attribute::{is_schema_urn, is_unassigned, names};
use scim::urn::{ENTERPRISE_USER, USER as CORE_USER};
use serde_json::Value;

use crate::config::model::{EMBEDDED_PREFIX, TokenSource};
use crate::config::{Deprovision, MaxChanges, Preset, Provider, RequestLimits, RoleDefinition};
use crate::state::{Item, LiveState, LiveUser};
use yaml::{Writer, scalar};

/// The provider block of an imported config, taken from the config imported with: the URL as
/// written and the token by reference, never the token itself.
#[derive(Debug, Clone)]
pub struct ProviderBlock {
    pub name: String,
    pub url: String,
    pub token: TokenRef,
    pub auth_scheme: Option<String>,
    pub preset: Option<Preset>,
    /// An explicit role definition (without a preset).
    pub roles: Option<RoleDefinition>,
    pub prune: bool,
    pub deprovision: Deprovision,
    pub max_changes: MaxChanges,
    /// `rate_limit`, `retry` and `limits` as the config sets them; a rate the preset gives
    /// is left out.
    pub requests: RequestLimits,
}

/// How the imported config refers to the provider's token.
#[derive(Debug, Clone)]
pub enum TokenRef {
    None,
    /// `token: ${VAR}`, exactly as written in the source config.
    Template(String),
    /// `token_file: PATH`, relative to the written config.
    File(String),
}

/// An imported directory, one YAML section per concern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub providers: String,
    pub users: String,
    pub groups: String,
    pub roles: String,
    /// Counts for the summary line.
    pub user_count: usize,
    pub group_count: usize,
    /// What could not be written exactly, for the person importing.
    pub warnings: Vec<String>,
}

/// The files of a folder import, in the order they are written.
pub const FOLDER_FILES: [&str; 4] = ["providers.yaml", "users.yaml", "groups.yaml", "roles.yaml"];

impl Imported {
    /// One config file: header, `version: 1`, then providers, users, groups and roles.
    #[must_use]
    pub fn single_file(&self, schema_ref: &str) -> String {
        let mut text = header(schema_ref);
        for section in [&self.providers, &self.users, &self.groups, &self.roles] {
            text.push('\n');
            text.push_str(section);
        }
        text
    }

    /// One file per concern, named as in [`FOLDER_FILES`], each a config file of its own.
    #[must_use]
    pub fn folder(&self, schema_ref: &str) -> Vec<(&'static str, String)> {
        let sections = [&self.providers, &self.users, &self.groups, &self.roles];
        FOLDER_FILES
            .iter()
            .zip(sections)
            .map(|(name, section)| (*name, format!("{}\n{section}", header(schema_ref))))
            .collect()
    }
}

fn header(schema_ref: &str) -> String {
    format!(
        "# yaml-language-server: $schema={schema_ref}\n\
         # Written by `scimform import`; `scimform plan` on it reports no changes.\n\
         version: 1\n"
    )
}

/// Writes what `live` holds as config for `provider`.
#[must_use]
pub fn import(provider: &ProviderBlock, live: &LiveState) -> Imported {
    let mut warnings = Vec::new();
    let role_definition = provider
        .preset
        .and_then(RoleDefinition::of_preset)
        .or_else(|| provider.roles.clone());

    let mut users: Vec<&LiveUser> = live.users.iter().collect();
    users.sort_by(|a, b| sort_key(&a.user_name).cmp(&sort_key(&b.user_name)));
    let names_by_id: HashMap<&str, &str> = live
        .users
        .iter()
        .map(|u| (u.id.as_str(), u.user_name.as_str()))
        .collect();

    // Role holders, by role value, as userNames.
    let mut holders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if let Some(definition) = &role_definition {
        for user in &users {
            for role in user.roles(&definition.schema, &definition.attribute) {
                if definition.values.contains(&role) {
                    holders
                        .entry(role)
                        .or_default()
                        .insert(user.user_name.clone());
                } else {
                    warnings.push(format!(
                        "user `{}` holds role `{role}`, which provider `{}` does not allow; it is left out",
                        user.user_name, provider.name
                    ));
                }
            }
        }
    }

    let mut w = Writer::default();
    if users.is_empty() {
        w.line(0, "users: []");
    } else {
        w.line(0, "users:");
        for user in &users {
            write_user(&mut w, user, role_definition.as_ref(), &mut warnings);
        }
    }
    let users_text = std::mem::take(&mut w.out);

    let groups = groups_out(live, &names_by_id, &mut warnings);
    if groups.is_empty() {
        w.line(0, "groups: []");
    } else {
        w.line(0, "groups:");
        for group in &groups {
            w.line(2, &format!("- displayName: {}", scalar(group.display_name)));
            if let Some(external_id) = group.external_id {
                w.string(4, "externalId", external_id);
            }
            w.list(4, "members", &group.members);
        }
    }
    let groups_text = std::mem::take(&mut w.out);

    let assignments = assign_roles(&holders, &groups);
    if assignments.is_empty() {
        w.line(0, "roles: {}");
    } else {
        w.line(0, "roles:");
        for (role, assignment) in &assignments {
            w.open(2, role);
            if !assignment.groups.is_empty() {
                w.list(4, "groups", &assignment.groups);
            }
            if !assignment.users.is_empty() {
                w.list(4, "users", &assignment.users);
            }
        }
    }
    let roles_text = std::mem::take(&mut w.out);

    Imported {
        providers: provider_text(provider),
        users: users_text,
        groups: groups_text,
        roles: roles_text,
        user_count: users.len(),
        group_count: groups.len(),
        warnings,
    }
}

/// The server's groups as written: members by userName, sorted; members that are not users
/// of the server are left out, with a warning.
fn groups_out<'a>(
    live: &'a LiveState,
    names_by_id: &HashMap<&str, &'a str>,
    warnings: &mut Vec<String>,
) -> Vec<GroupOut<'a>> {
    let mut groups: Vec<GroupOut<'a>> = live
        .groups
        .iter()
        .map(|g| {
            let mut members: Vec<&str> = Vec::new();
            for id in &g.members {
                match names_by_id.get(id.as_str()) {
                    Some(name) => members.push(name),
                    None => warnings.push(format!(
                        "group `{}` has member `{id}`, which is not a user of this server; it is left out",
                        g.display_name
                    )),
                }
            }
            members.sort_by_key(|m| sort_key(m));
            GroupOut {
                display_name: &g.display_name,
                external_id: g.external_id.as_deref().filter(|e| !e.is_empty()),
                members,
            }
        })
        .collect();
    groups.sort_by(|a, b| sort_key(a.display_name).cmp(&sort_key(b.display_name)));
    groups
}

/// How names sort: case-insensitively, ties broken by the exact spelling, so the order never
/// depends on the server's.
fn sort_key(s: &str) -> (String, &str) {
    (s.to_lowercase(), s)
}

/// A group as written: members by userName, sorted.
struct GroupOut<'a> {
    display_name: &'a str,
    external_id: Option<&'a str>,
    members: Vec<&'a str>,
}

/// Who holds one role, as written under `roles:`.
struct Assignment<'a> {
    groups: Vec<&'a str>,
    users: Vec<&'a str>,
}

/// Who gets each role: groups whose every member holds it (largest first, each only when it
/// covers a holder no earlier one did), then the remaining holders directly. Every user's
/// effective roles are then exactly what the server holds.
fn assign_roles<'a>(
    holders: &'a BTreeMap<String, BTreeSet<String>>,
    groups: &'a [GroupOut<'a>],
) -> BTreeMap<&'a str, Assignment<'a>> {
    let mut out = BTreeMap::new();
    for (role, users) in holders {
        let mut candidates: Vec<&GroupOut<'_>> = groups
            .iter()
            .filter(|g| !g.members.is_empty() && g.members.iter().all(|m| users.contains(*m)))
            .collect();
        candidates.sort_by(|a, b| {
            b.members
                .len()
                .cmp(&a.members.len())
                .then_with(|| sort_key(a.display_name).cmp(&sort_key(b.display_name)))
        });
        let mut covered: BTreeSet<&str> = BTreeSet::new();
        let mut via_groups = Vec::new();
        for group in candidates {
            if group.members.iter().any(|m| !covered.contains(m)) {
                covered.extend(group.members.iter().copied());
                via_groups.push(group.display_name);
            }
        }
        via_groups.sort_by_key(|g| sort_key(g));
        let mut direct: Vec<&str> = users
            .iter()
            .map(String::as_str)
            .filter(|u| !covered.contains(u))
            .collect();
        direct.sort_by_key(|u| sort_key(u));
        out.insert(
            role.as_str(),
            Assignment {
                groups: via_groups,
                users: direct,
            },
        );
    }
    out
}

fn provider_text(provider: &ProviderBlock) -> String {
    let mut w = Writer::default();
    w.line(0, "providers:");
    w.open(2, &provider.name);
    w.string(4, "url", &provider.url);
    match &provider.token {
        TokenRef::None => {}
        TokenRef::Template(template) => w.string(4, "token", template),
        TokenRef::File(path) => w.string(4, "token_file", path),
    }
    if let Some(scheme) = &provider.auth_scheme {
        w.string(4, "auth_scheme", scheme);
    }
    if let Some(preset) = provider.preset {
        w.entry(4, "preset", preset.profile().name);
    }
    if let Some(roles) = &provider.roles {
        w.open(4, "roles");
        w.string(6, "schema", &roles.schema);
        w.string(6, "attribute", &roles.attribute);
        let values: Vec<&str> = roles.values.iter().map(String::as_str).collect();
        w.list(6, "values", &values);
    }
    if provider.prune {
        w.entry(4, "prune", "true");
    }
    let default_deprovision = (provider.preset)
        .map(|p| Deprovision::of_profile(p.profile()))
        .unwrap_or_default();
    if provider.deprovision != default_deprovision {
        let deprovision = match provider.deprovision {
            Deprovision::Deactivate => "deactivate",
            Deprovision::Delete => "delete",
        };
        w.entry(4, "deprovision", deprovision);
    }
    if provider.max_changes != MaxChanges::default() {
        w.open(4, "max_changes");
        w.entry(
            6,
            "delete_percent",
            &provider.max_changes.delete_percent.to_string(),
        );
    }
    write_requests(&mut w, &provider.requests);
    w.out
}

/// A provider's `rate_limit`, `retry` and `limits`, each in a form the config reads back to
/// the same value, and written plain: digits, letters, spaces, `.` and `/` need no quotes.
fn write_requests(w: &mut Writer, requests: &RequestLimits) {
    if let Some(rate) = requests.rate_limit {
        w.entry(4, "rate_limit", &rate_text(rate));
    }
    if requests.attempts.is_some() || requests.deadline.is_some() {
        w.open(4, "retry");
        if let Some(attempts) = requests.attempts {
            w.entry(6, "attempts", &attempts.to_string());
        }
        if let Some(deadline) = requests.deadline {
            w.entry(
                6,
                "deadline",
                &humantime::format_duration(deadline).to_string(),
            );
        }
    }
    let listing = (requests.listing_requests, requests.listing_time);
    if requests.response_bytes.is_some() || listing != (None, None) {
        w.open(4, "limits");
        if let Some(bytes) = requests.response_bytes {
            w.entry(6, "response_size", &size_text(bytes));
        }
        if let Some(count) = requests.listing_requests {
            w.entry(6, "listing_requests", &count.to_string());
        }
        if let Some(time) = requests.listing_time {
            w.entry(
                6,
                "listing_time",
                &humantime::format_duration(time).to_string(),
            );
        }
    }
}

/// Requests per second as `N/s`, or as `N/min` when that is a whole number and `N/s` is not.
fn rate_text(per_second: f64) -> String {
    let per_minute = per_second * 60.0;
    if per_second.fract() != 0.0 && (per_minute - per_minute.round()).abs() < 1e-9 {
        format!("{}/min", per_minute.round())
    } else {
        format!("{per_second}/s")
    }
}

/// A size in the largest binary unit that divides it, else in bytes.
fn size_text(bytes: usize) -> String {
    for (unit, size) in [("GiB", 1usize << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes.is_multiple_of(size) {
            return format!("{} {unit}", bytes / size);
        }
    }
    format!("{bytes} B")
}

impl ProviderBlock {
    /// The block for `provider` as declared in the config, for a config written into the
    /// folder `out_dir`: the URL and token reference as written, with paths that are relative
    /// to the source config (`embedded:PATH`, `token_file`) made relative to `out_dir`.
    #[must_use]
    pub fn from_config(provider: &Provider, out_dir: &Path) -> Self {
        let source_dir = provider.file.dir();
        let mut url = provider.url.text.clone();
        if provider.url.template.is_literal()
            && let Some(path) = url.strip_prefix(EMBEDDED_PREFIX)
        {
            url = format!(
                "{EMBEDDED_PREFIX}{}",
                rebase(&source_dir.join(path), out_dir)
            );
        }
        let token = match &provider.token {
            TokenSource::None => TokenRef::None,
            TokenSource::Value(template) => TokenRef::Template(template.text.clone()),
            TokenSource::File { path, .. } => TokenRef::File(rebase(path, out_dir)),
        };
        let default_scheme = provider
            .preset
            .map_or("Bearer", |p| p.profile().auth_scheme);
        ProviderBlock {
            name: provider.name.clone(),
            url,
            token,
            auth_scheme: (provider.auth_scheme != default_scheme)
                .then(|| provider.auth_scheme.clone()),
            preset: provider.preset,
            roles: if provider.preset.is_some() {
                None
            } else {
                provider.roles.clone()
            },
            prune: provider.prune,
            deprovision: provider.deprovision,
            max_changes: provider.max_changes,
            requests: RequestLimits {
                rate_limit: (provider.requests.rate_limit).filter(|rate| {
                    Some(*rate) != provider.preset.and_then(|p| p.profile().rate_limit)
                }),
                ..provider.requests
            },
        }
    }
}

/// `path` relative to `dir` when both can be made absolute, else `path` as it is.
fn rebase(path: &Path, dir: &Path) -> String {
    let absolute = |p: &Path| {
        let p = if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        };
        std::path::absolute(p).ok().map(|p| normalize(&p))
    };
    let (Some(path_abs), Some(dir_abs)) = (absolute(path), absolute(dir)) else {
        return path.display().to_string();
    };
    let common = path_abs
        .components()
        .zip(dir_abs.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut relative = PathBuf::new();
    for _ in dir_abs.components().skip(common) {
        relative.push("..");
    }
    for component in path_abs.components().skip(common) {
        relative.push(component);
    }
    if relative.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        relative.display().to_string()
    }
}

/// Removes `.` and resolves `..` without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The components of a name, in the order a person writes them.
const NAME_ORDER: [&str; 6] = [
    "givenName",
    "middleName",
    "familyName",
    "honorificPrefix",
    "honorificSuffix",
    "formatted",
];

fn write_user(
    w: &mut Writer,
    user: &LiveUser,
    roles: Option<&RoleDefinition>,
    warnings: &mut Vec<String>,
) {
    let a = &user.attributes;
    w.line(2, &format!("- userName: {}", scalar(&user.user_name)));
    let name = a.name.parts();
    let parts: Vec<(&str, &str)> = NAME_ORDER
        .iter()
        .filter_map(|part| name.iter().find(|(p, _)| p == part))
        .filter_map(|(part, value)| Some((*part, (*value)?)))
        .collect();
    if !parts.is_empty() {
        w.open(4, "name");
        for (part, value) in parts {
            w.string(6, part, value);
        }
    }
    for (attribute, value) in a.strings() {
        if let Some(value) = value {
            w.string(4, attribute, value);
        }
    }
    if let Some(active) = a.active {
        w.entry(4, "active", if active { "true" } else { "false" });
    }
    multi_valued(w, "emails", &a.emails);
    multi_valued(w, "phoneNumbers", &a.phone_numbers);
    if let Some(external_id) = user.external_id.as_deref().filter(|e| !e.is_empty()) {
        w.string(4, "externalId", external_id);
    }
    write_extensions(w, user, roles, warnings);
}

/// `emails` or `phoneNumbers`: the bare value when the server holds neither `type` nor a
/// primary flag, otherwise the full object, so that what the server holds is what is compared.
fn multi_valued(w: &mut Writer, attribute: &str, items: &[Item]) {
    let mut values: Vec<(&str, Option<&str>, bool)> = items
        .iter()
        .filter_map(|item| {
            Some((
                item.value.as_deref().filter(|v| !v.is_empty())?,
                item.kind.as_deref().filter(|k| !k.is_empty()),
                item.primary == Some(true),
            ))
        })
        .collect();
    if values.is_empty() {
        return;
    }
    values.sort_by(|a, b| {
        b.2.cmp(&a.2)
            .then_with(|| sort_key(a.0).cmp(&sort_key(b.0)))
            .then_with(|| a.1.cmp(&b.1))
    });
    w.open(4, attribute);
    for (value, kind, primary) in values {
        if kind.is_none() && !primary {
            w.line(6, &format!("- {}", scalar(value)));
            continue;
        }
        w.line(6, &format!("- value: {}", scalar(value)));
        if let Some(kind) = kind {
            w.string(8, "type", kind);
        }
        if primary {
            w.entry(8, "primary", "true");
        }
    }
}

/// Extension attributes: every assigned attribute of every extension object the user
/// carries, except the provider's role attribute (written under `roles:`) and the enterprise
/// `manager` (a server id).
fn write_extensions(
    w: &mut Writer,
    user: &LiveUser,
    roles: Option<&RoleDefinition>,
    warnings: &mut Vec<String>,
) {
    let mut schemas: Vec<(&str, Vec<(&str, &Value)>)> = Vec::new();
    for extension in &user.attributes.extensions {
        let key = &*extension.schema;
        let is_extension = is_schema_urn(key) && !names(key, CORE_USER);
        let Some(attributes) = extension.attributes.as_ref().filter(|_| is_extension) else {
            continue;
        };
        let mut kept = Vec::new();
        for (name, value) in attributes {
            let name = &**name;
            let is_role = roles.is_some_and(|r| names(key, &r.schema) && names(name, &r.attribute));
            // The enterprise `manager` holds another user's server id: it means nothing on
            // another server, so a reseed could not reproduce it. It is left unmanaged.
            let is_reference = names(key, ENTERPRISE_USER) && names(name, "manager");
            if is_role || is_reference || is_unassigned(value) {
                continue;
            }
            if !is_attribute_name(name) || key.contains(char::is_whitespace) {
                warnings.push(format!(
                    "user `{}`: extension attribute `{key}:{name}` cannot be written in a config; it is left out",
                    user.user_name
                ));
                continue;
            }
            kept.push((name, value));
        }
        if !kept.is_empty() {
            kept.sort_by(|a, b| a.0.cmp(b.0));
            schemas.push((key, kept));
        }
    }
    if schemas.is_empty() {
        return;
    }
    schemas.sort_by(|a, b| a.0.cmp(b.0));
    w.open(4, "extensions");
    for (schema, attributes) in schemas {
        w.open(6, schema);
        for (name, value) in attributes {
            w.entry(8, name, &yaml::flow_value(value));
        }
    }
}

/// RFC 7643 §2.1: `ATTRNAME = ALPHA *(nameChar)`.
fn is_attribute_name(value: &str) -> bool {
    let mut chars = value.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests;
