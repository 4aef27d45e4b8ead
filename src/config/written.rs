//! The config file as written: serde types that mirror the YAML one to one.
//!
//! These types only say what is well-formed; what is meaningful (names that resolve, role
//! values a provider allows, well-formed emails) is decided in `validate`. They are
//! also the source of the JSON Schema (`scimform schema`), so their doc comments are what
//! editors show, and every struct denies unknown keys.
//!
//! `written` pairs with `model`: the config as written, then the config as validated. The
//! `Raw` prefix of the types says the same: not yet validated.

use std::fmt;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::managed::Managed;
use super::spanned::{Spanned, SpannedMap};

/// A scimform config file: providers (SCIM endpoints), the users and groups they must hold,
/// and role assignments. `${VAR}` is read from the environment only in a provider's `url` and
/// `token`; anywhere else a `${...}` is an error.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "scimform config")]
pub struct RawFile {
    /// Version of this file format. Must be `1`.
    #[schemars(extend("const" = 1))]
    pub version: Spanned<u64>,
    /// SCIM endpoints to reconcile, by name.
    #[serde(default)]
    pub providers: SpannedMap<Spanned<RawProvider>>,
    /// Users every provider they apply to must hold.
    #[serde(default)]
    pub users: Vec<Spanned<RawUser>>,
    /// Groups every provider they apply to must hold.
    #[serde(default)]
    pub groups: Vec<Spanned<RawGroup>>,
    /// Role assignments, by role value.
    #[serde(default)]
    pub roles: SpannedMap<Spanned<RawRoleAssignment>>,
}

/// The top-level keys of [`RawFile`], in the order the loader reads them.
pub const TOP_LEVEL_KEYS: &[&str] = &["version", "providers", "users", "groups", "roles"];

/// A SCIM service provider and how to talk to it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Provider")]
pub struct RawProvider {
    /// Base URL of the SCIM API (`https://host/scim/v2`), or `embedded:PATH` for the built-in
    /// server over the store at PATH (relative to this file). `${VAR}` is replaced from the
    /// environment.
    #[schemars(required)]
    pub url: Option<Spanned<String>>,
    /// API token as exactly one `${VAR}` reference to the environment (a literal token, or
    /// literal text around a reference, is refused, so that no part of a token is ever
    /// committed). Mutually exclusive with `token_file`.
    #[serde(default)]
    #[schemars(regex(pattern = r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$"))]
    pub token: Option<Spanned<String>>,
    /// File holding the API token, relative to this file: a regular file of at most 64 KiB,
    /// the token on one line (whitespace and a byte order mark around it are ignored).
    /// `${VAR}` is not expanded here. Mutually exclusive with `token`.
    #[serde(default)]
    pub token_file: Option<Spanned<String>>,
    /// Scheme of the `Authorization` header: `Authorization: <scheme> <token>`.
    /// Default `Bearer` (`token` with `preset: tonkean`).
    #[serde(default)]
    pub auth_scheme: Option<Spanned<String>>,
    /// A known SCIM server; implies its role definition and auth scheme.
    #[serde(default)]
    pub preset: Option<Spanned<Preset>>,
    /// Where this provider keeps roles, when no preset says so.
    #[serde(default)]
    pub roles: Option<Spanned<RawRoleDefinition>>,
    /// Deprovision server users and groups that the file does not declare. Default `false`.
    #[serde(default)]
    pub prune: Option<Spanned<bool>>,
    /// How a user is deprovisioned. Default `deactivate`.
    #[serde(default)]
    pub deprovision: Option<Spanned<Deprovision>>,
    /// Safety limits on destructive plans.
    #[serde(default)]
    pub max_changes: Option<Spanned<RawMaxChanges>>,
    /// The most requests per second to send this provider's server, e.g. `40/s` or
    /// `600/min`. Without it, requests are slowed only once the server refuses one (429).
    #[serde(default)]
    #[schemars(regex(pattern = r"^\s*[0-9]+(\.[0-9]+)?\s*/\s*(s|sec|second|m|min|minute)\s*$"))]
    pub rate_limit: Option<Spanned<String>>,
    /// How each request to this provider is retried when it fails (a 429, a 5xx, a reset,
    /// a timeout).
    #[serde(default)]
    pub retry: Option<Spanned<RawRetry>>,
    /// The most scimform reads of this provider's server, whatever the server says.
    #[serde(default)]
    pub limits: Option<Spanned<RawLimits>>,
}

/// The most scimform reads of a provider's server.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Limits")]
pub struct RawLimits {
    /// The largest response read, e.g. `64 MiB` (the default) or `200 MB`; a larger one is
    /// refused as it arrives.
    #[serde(default)]
    pub response_size: Option<Spanned<String>>,
    /// The most requests one listing of users or groups may take. Default 10000. A listing
    /// that would take more is not read past its first page, and not trusted.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub listing_requests: Option<Spanned<u64>>,
    /// The longest one listing may take, e.g. `10m`. Default `30m`.
    #[serde(default)]
    pub listing_time: Option<Spanned<String>>,
}

/// How each request to a provider is retried.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Retry")]
pub struct RawRetry {
    /// Attempts per request, the first one included. Default 9.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub attempts: Option<Spanned<u32>>,
    /// No retry of a request starts later than this after its first attempt, e.g. `90s` or
    /// `5m`. Default `2m`.
    #[serde(default)]
    pub deadline: Option<Spanned<String>>,
}

/// A SCIM service whose documented behaviour scimform knows: its profile (README, Provider
/// profiles; docs/providers/NAME.md). It sets the auth scheme, the roles, the default
/// deprovisioning and rate, what validation refuses and which requests the plan uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Tonkean: roles in `urn:scim:tonkean:tonkeanRoles` (`PROCESS_CONTRIBUTOR`,
    /// `SYSTEM_USER`), auth scheme `token` (docs/providers/tonkean.md).
    Tonkean,
    /// AWS IAM Identity Center: members hidden (read with member filters), `eq` filters only,
    /// no Bulk, group PATCH without `replace`, one email and one phone number per user
    /// (docs/providers/aws-identity-center.md).
    AwsIdentityCenter,
    /// GitHub Enterprise Managed Users: roles in the core `roles` attribute
    /// (docs/providers/github-emu.md).
    GithubEmu,
    /// Slack (docs/providers/slack.md).
    Slack,
    /// Databricks account SCIM: roles in the core `roles` attribute
    /// (docs/providers/databricks.md).
    Databricks,
}

impl Preset {
    /// Every preset, in the order of [`scim::profile::PROFILES`].
    pub const ALL: [Preset; 5] = [
        Preset::Tonkean,
        Preset::AwsIdentityCenter,
        Preset::GithubEmu,
        Preset::Slack,
        Preset::Databricks,
    ];

    /// What the service documents about itself.
    #[must_use]
    pub fn profile(self) -> &'static scim::profile::Profile {
        use scim::profile;
        match self {
            Preset::Tonkean => &profile::TONKEAN,
            Preset::AwsIdentityCenter => &profile::AWS_IDENTITY_CENTER,
            Preset::GithubEmu => &profile::GITHUB_EMU,
            Preset::Slack => &profile::SLACK,
            Preset::Databricks => &profile::DATABRICKS,
        }
    }
}

/// How users are deprovisioned (README, Providers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Deprovision {
    /// `PATCH active=false`: the user stays, unable to sign in.
    #[default]
    Deactivate,
    /// `DELETE` the user.
    Delete,
}

impl Deprovision {
    /// What a service's documentation says removing a user should be.
    #[must_use]
    pub fn of_profile(profile: &scim::profile::Profile) -> Self {
        match profile.deprovisioning {
            scim::profile::Deprovisioning::Deactivate => Deprovision::Deactivate,
            scim::profile::Deprovisioning::Delete => Deprovision::Delete,
        }
    }
}

/// Where a provider keeps role values: a multi-valued string attribute of a schema extension.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RoleDefinition")]
pub struct RawRoleDefinition {
    /// The extension schema URN, e.g. `urn:scim:tonkean`.
    pub schema: Spanned<String>,
    /// The attribute in that extension, e.g. `tonkeanRoles`.
    pub attribute: Spanned<String>,
    /// The role values the provider accepts.
    pub values: Spanned<Vec<Spanned<String>>>,
}

/// Safety limits on destructive plans (README, Plans).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MaxChanges")]
pub struct RawMaxChanges {
    /// Refuse a plan that deprovisions more than this percentage of a provider's users
    /// (when it holds at least 10). Default 10.
    #[serde(default)]
    #[schemars(range(max = 100))]
    pub delete_percent: Option<Spanned<u8>>,
}

/// A user (RFC 7643 §4.1). An attribute left out is not managed; `null` removes it.
// Every user is held in this form until all files are read, so the attributes most users
// leave out (and `providers`, which most leave to the default) are boxed: a missing one then
// takes a word or two instead of a whole value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "User")]
pub struct RawUser {
    /// Unique identifier, matched case-insensitively.
    pub user_name: Spanned<String>,
    /// The components of the user's name.
    #[serde(default)]
    pub name: Managed<Spanned<RawName>>,
    #[serde(default)]
    pub display_name: Managed<Spanned<String>>,
    #[serde(default)]
    pub nick_name: Managed<Box<Spanned<String>>>,
    #[serde(default)]
    pub title: Managed<Spanned<String>>,
    #[serde(default)]
    pub user_type: Managed<Box<Spanned<String>>>,
    #[serde(default)]
    pub preferred_language: Managed<Box<Spanned<String>>>,
    #[serde(default)]
    pub locale: Managed<Box<Spanned<String>>>,
    #[serde(default)]
    pub timezone: Managed<Box<Spanned<String>>>,
    #[serde(default)]
    pub active: Managed<Spanned<bool>>,
    /// Email addresses: `ada@example.com` or `{value, type, primary}`.
    #[serde(default)]
    pub emails: Managed<Spanned<Vec<Spanned<RawMultiValue>>>>,
    /// Phone numbers: `+1 555 0100` or `{value, type, primary}`.
    #[serde(default)]
    pub phone_numbers: Managed<Box<Spanned<Vec<Spanned<RawMultiValue>>>>>,
    /// Identifier of the user in the provisioning client's own system.
    #[serde(default)]
    pub external_id: Managed<Spanned<String>>,
    /// Extension attributes by schema URN, e.g.
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User: { employeeNumber: "42" }`.
    /// Roles are assigned under `roles:`, not here.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": "^[uU][rR][nN]:" }))]
    pub extensions: Option<Box<Spanned<RawExtensions>>>,
    /// Providers that hold this user. Default: every provider.
    #[serde(default)]
    pub providers: Option<Box<Spanned<Vec<Spanned<String>>>>>,
    /// Tombstone: make sure this user is gone.
    #[serde(default)]
    pub absent: Option<Spanned<bool>>,
}

/// A user's extension attributes: attribute values by name, by schema URN.
pub type RawExtensions = SpannedMap<SpannedMap<Spanned<serde_json::Value>>>;

/// The components of a user's name (RFC 7643 §4.1.1).
// The parts other than the given and family names are rare, and boxed like the rare
// attributes of `RawUser`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Name")]
pub struct RawName {
    #[serde(default)]
    pub formatted: Managed<Box<Spanned<String>>>,
    #[serde(default)]
    pub family_name: Managed<Spanned<String>>,
    #[serde(default)]
    pub given_name: Managed<Spanned<String>>,
    #[serde(default)]
    pub middle_name: Managed<Box<Spanned<String>>>,
    #[serde(default)]
    pub honorific_prefix: Managed<Box<Spanned<String>>>,
    #[serde(default)]
    pub honorific_suffix: Managed<Box<Spanned<String>>>,
}

/// One value of a multi-valued attribute such as `emails`: the bare value, or the full object.
#[derive(Debug, JsonSchema)]
#[schemars(untagged)]
#[schemars(rename = "MultiValue")]
pub enum RawMultiValue {
    /// Just the value; its `type` and `primary` are not managed.
    Short(String),
    Full(RawMultiValueObject),
}

/// A multi-valued attribute's value with its `type` and `primary` flag (RFC 7643 §2.4).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MultiValueObject")]
pub struct RawMultiValueObject {
    pub value: Spanned<String>,
    /// E.g. `work`, `home`, `mobile`.
    #[serde(default, rename = "type")]
    pub kind: Option<Spanned<String>>,
    #[serde(default)]
    pub primary: Option<Spanned<bool>>,
}

impl<'de> Deserialize<'de> for RawMultiValue {
    // Hand-written rather than `#[serde(untagged)]`: serde buffers untagged values, which
    // would drop the spans of everything inside.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MultiValueVisitor;

        impl<'de> Visitor<'de> for MultiValueVisitor {
            type Value = RawMultiValue;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a mapping with `value`, `type` and `primary`")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawMultiValue, E> {
                Ok(RawMultiValue::Short(v.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawMultiValue, A::Error> {
                RawMultiValueObject::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawMultiValue::Full)
            }
        }

        deserializer.deserialize_any(MultiValueVisitor)
    }
}

/// A group (RFC 7643 §4.2).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(rename = "Group")]
pub struct RawGroup {
    /// Unique name, matched case-insensitively.
    pub display_name: Spanned<String>,
    #[serde(default)]
    pub external_id: Managed<Spanned<String>>,
    /// Members by userName. When declared, the list is authoritative: other members are
    /// removed.
    #[serde(default)]
    pub members: Managed<Spanned<Vec<Spanned<String>>>>,
    /// Providers that hold this group. Default: every provider.
    #[serde(default)]
    pub providers: Option<Spanned<Vec<Spanned<String>>>>,
    /// Tombstone: make sure this group is gone.
    #[serde(default)]
    pub absent: Option<Spanned<bool>>,
}

/// Who holds one role value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RoleAssignment")]
pub struct RawRoleAssignment {
    /// Users by userName.
    #[serde(default)]
    pub users: Vec<Spanned<String>>,
    /// Groups by displayName: every member gets the role.
    #[serde(default)]
    pub groups: Vec<Spanned<String>>,
}

#[cfg(test)]
mod preset_tests {
    use super::Preset;

    #[test]
    fn every_profile_is_a_preset_under_its_own_name() {
        assert_eq!(Preset::ALL.len(), scim::profile::PROFILES.len());
        for (preset, profile) in Preset::ALL.into_iter().zip(scim::profile::PROFILES) {
            assert_eq!(preset.profile(), profile);
            let read: Preset = serde_json::from_value(serde_json::json!(profile.name))
                .unwrap_or_else(|e| panic!("`preset: {}` does not read: {e}", profile.name));
            assert_eq!(read, preset);
        }
    }
}
