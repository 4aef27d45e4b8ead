//! The validated config: what the plan engine reads.
//!
//! Everything here has been checked: names resolve, duplicates are gone, role values are
//! allowed, and each user's effective roles per provider are computed. Secrets and URLs are the
//! exception: they stay `${VAR}` templates until a command that talks to a server resolves
//! them ([`Provider::resolve_url`], [`Provider::resolve_token`]), so that `validate` needs no
//! secrets.

use std::borrow::{Borrow, Cow};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use foldhash::HashMap;
use scim::profile::Profile;
use secrecy::SecretString;

use super::diagnostic::Diagnostic;
use super::interpolate::{self, Template};
use super::load::FileRefusal;
use super::managed::Managed;
use super::source::{SourceFile, Span};
pub use super::written::{Deprovision, Preset};
pub use scim::profile::RoleShape;

/// A validated config: providers, users, groups and role assignments.
#[derive(Debug)]
pub struct Config {
    pub(crate) providers: Vec<Provider>,
    pub(crate) users: Vec<User>,
    pub(crate) groups: Vec<Group>,
    pub(crate) roles: Vec<RoleAssignment>,
    pub(crate) user_index: HashMap<UserKey, usize>,
    pub(crate) group_index: HashMap<GroupKey, usize>,
    /// [`Sources::digests`](super::Sources::digests) of the files the config was read from,
    /// and the config's digest made of them. The files' texts are not kept: a config of
    /// 100,000 users is tens of megabytes of YAML, and a valid config's errors are all
    /// reported while it is loaded (the memory target, docs/benchmarks.md).
    pub(crate) file_digests: BTreeMap<String, String>,
    pub(crate) digest: String,
}

impl Config {
    /// Providers in declaration order.
    #[must_use]
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    #[must_use]
    pub fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// Users in declaration order, tombstones included.
    #[must_use]
    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// The user with this userName, matched case-insensitively.
    #[must_use]
    pub fn user(&self, user_name: &str) -> Option<&User> {
        self.user_index
            .get(&*key_text(user_name))
            .map(|&i| &self.users[i])
    }

    /// Groups in declaration order, tombstones included.
    #[must_use]
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The group with this displayName, matched case-insensitively.
    #[must_use]
    pub fn group(&self, display_name: &str) -> Option<&Group> {
        self.group_index
            .get(&*key_text(display_name))
            .map(|&i| &self.groups[i])
    }

    /// The users that `provider` must hold (or, for tombstones, must not hold).
    pub fn users_for<'a>(&'a self, provider: &'a str) -> impl Iterator<Item = &'a User> + 'a {
        self.users.iter().filter(move |u| u.is_on(provider))
    }

    /// The groups that `provider` must hold (or, for tombstones, must not hold).
    pub fn groups_for<'a>(&'a self, provider: &'a str) -> impl Iterator<Item = &'a Group> + 'a {
        self.groups.iter().filter(move |g| g.is_on(provider))
    }

    /// The members of `group` on `provider`: those of its declared members that the provider
    /// holds. `None` when the group does not declare its members.
    #[must_use]
    pub fn members_on<'a>(
        &'a self,
        group: &'a Group,
        provider: &'a str,
    ) -> Option<impl Iterator<Item = &'a User> + 'a> {
        let Managed::Set(members) = &group.members else {
            return None;
        };
        Some(
            members
                .iter()
                .map(|&i| &self.users[i])
                .filter(move |user| user.is_on(provider)),
        )
    }

    /// Role assignments as declared under `roles:`, with their targets resolved.
    #[must_use]
    pub fn roles(&self) -> &[RoleAssignment] {
        &self.roles
    }

    /// A digest of what the files the config was read from say (comments and layout aside),
    /// so that a saved plan can tell that the config changed since it was made
    /// (README, Saved plans): [`crate::digest::of_config_files`] of [`Config::file_digests`].
    #[must_use]
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The digest of what each file of the config says, by file name: what a saved plan
    /// names when it is stale.
    #[must_use]
    pub fn file_digests(&self) -> &BTreeMap<String, String> {
        &self.file_digests
    }
}

/// A userName normalised for matching: SCIM compares userNames case-insensitively
/// (RFC 7643 §4.1.1, `caseExact: false`).
/// Shared, not copied, by the group memberships and role assignments that name the user.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserKey(Arc<str>);

impl UserKey {
    #[must_use]
    pub fn new(user_name: &str) -> Self {
        UserKey(lowercase(user_name))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A group displayName normalised for matching (RFC 7643 §4.2, `caseExact: false`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey(Arc<str>);

impl GroupKey {
    #[must_use]
    pub fn new(display_name: &str) -> Self {
        GroupKey(lowercase(display_name))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A key's text is its name in lower case: keys hash and compare as their text, so a map
/// keyed by them is searched with [`key_text`] without building a key.
impl Borrow<str> for UserKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for GroupKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// The text of the key a userName or displayName matches by: `name` in lower case, borrowed
/// when it is lower case already (the common case).
pub(crate) fn key_text(name: &str) -> Cow<'_, str> {
    if name
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.to_lowercase())
    }
}

/// `text` in lower case, with a single copy when it is lower case already (the common case).
fn lowercase(text: &str) -> Arc<str> {
    match key_text(text) {
        Cow::Borrowed(text) => Arc::from(text),
        Cow::Owned(lower) => Arc::from(lower),
    }
}

/// A SCIM service provider and how to reach it.
pub struct Provider {
    pub(crate) name: String,
    pub(crate) span: Span,
    pub(crate) file: Arc<SourceFile>,
    pub(crate) url: SpannedTemplate,
    pub(crate) token: TokenSource,
    pub(crate) auth_scheme: String,
    pub(crate) preset: Option<Preset>,
    pub(crate) roles: Option<RoleDefinition>,
    pub(crate) prune: bool,
    pub(crate) deprovision: Deprovision,
    pub(crate) max_changes: MaxChanges,
    pub(crate) requests: RequestLimits,
}

/// Provider details for debugging: never the token, nor a resolved URL.
impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("span", &self.span)
            .field("file", &self.file.name())
            .field("url", &self.url.text)
            .field("token", &self.token)
            .field("auth_scheme", &self.auth_scheme)
            .field("preset", &self.preset)
            .field("roles", &self.roles)
            .field("prune", &self.prune)
            .field("deprovision", &self.deprovision)
            .field("max_changes", &self.max_changes)
            .field("requests", &self.requests)
            .finish()
    }
}

/// A provider URL or token as written, `${VAR}` references unresolved.
#[derive(Clone, Debug)]
pub(crate) struct SpannedTemplate {
    pub(crate) text: String,
    pub(crate) template: Template,
    pub(crate) span: Span,
    /// Where the string's text starts inside `span`, when the YAML scalar is written so that
    /// offsets into the string are offsets into the file (plain or simply quoted).
    pub(crate) text_offset: Option<usize>,
}

impl SpannedTemplate {
    /// The span of `len` bytes at `offset` in the string, or of the whole scalar when the
    /// string's bytes are not the file's.
    fn sub_span(&self, offset: usize, len: usize) -> Span {
        match self.text_offset {
            Some(start) => self.span.sub(start + offset, len),
            None => self.span,
        }
    }
}

/// Where a provider's token comes from. Never holds the token itself.
#[derive(Clone, Debug)]
pub(crate) enum TokenSource {
    None,
    Value(SpannedTemplate),
    File { path: PathBuf, span: Span },
}

/// Where a provider is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A SCIM server's base URL, such as `https://tonkean.example.com/scim/v2`.
    Http(reqwest::Url),
    /// The embedded server (README, The embedded server) over the store at this path.
    Embedded(PathBuf),
}

impl Endpoint {
    /// Whether a token may be sent here (README, Providers): https, loopback over http, or the
    /// embedded server. Plain http elsewhere needs `--allow-insecure-http`.
    #[must_use]
    pub fn is_secure(&self) -> bool {
        match self {
            Endpoint::Embedded(_) => true,
            Endpoint::Http(url) => url.scheme() == "https" || is_loopback(url),
        }
    }
}

pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Provider {
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the provider is declared (its name in the `providers:` mapping).
    #[must_use]
    pub fn span(&self) -> Span {
        self.span
    }

    /// The URL as written, `${VAR}` references unresolved. Safe to print.
    #[must_use]
    pub fn url_template(&self) -> &str {
        &self.url.text
    }

    /// Whether the provider is the embedded server (README, The embedded server).
    #[must_use]
    pub fn is_embedded(&self) -> bool {
        self.url.text.starts_with(EMBEDDED_PREFIX)
    }

    #[must_use]
    pub fn auth_scheme(&self) -> &str {
        &self.auth_scheme
    }

    #[must_use]
    pub fn preset(&self) -> Option<Preset> {
        self.preset
    }

    /// What the provider's service documents about itself, when the config names its preset.
    #[must_use]
    pub fn profile(&self) -> Option<&'static Profile> {
        self.preset.map(Preset::profile)
    }

    /// Where roles are kept on this provider, from `roles:` or the preset.
    #[must_use]
    pub fn role_definition(&self) -> Option<&RoleDefinition> {
        self.roles.as_ref()
    }

    #[must_use]
    pub fn prune(&self) -> bool {
        self.prune
    }

    #[must_use]
    pub fn deprovision(&self) -> Deprovision {
        self.deprovision
    }

    #[must_use]
    pub fn max_changes(&self) -> MaxChanges {
        self.max_changes
    }

    /// How requests to this provider are retried and paced.
    #[must_use]
    pub fn request_limits(&self) -> RequestLimits {
        self.requests
    }

    /// Resolves the URL from the process environment and checks that a token may be sent
    /// there (README, Providers) unless `allow_insecure_http`.
    pub fn resolve_url(&self, allow_insecure_http: bool) -> Result<Endpoint, Diagnostic> {
        self.resolve_url_with(interpolate::from_env, allow_insecure_http)
    }

    /// [`Provider::resolve_url`] with variables looked up by `lookup`.
    pub fn resolve_url_with(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
        allow_insecure_http: bool,
    ) -> Result<Endpoint, Diagnostic> {
        let text = self.resolve_template(&self.url, lookup)?;
        let endpoint = parse_endpoint(&text, self.file.dir()).map_err(|message| {
            Diagnostic::new(format!(
                "provider `{}`: the URL `{text}` is invalid: {message}",
                self.name
            ))
            .at_in(&self.file, self.url.span, "resolves to an invalid URL")
            .help("set the variables so that the URL reads like https://host/scim/v2")
        })?;
        if !allow_insecure_http && !endpoint.is_secure() {
            return Err(insecure_http(&self.name).at_in(&self.file, self.url.span, "plain http"));
        }
        Ok(endpoint)
    }

    /// Reads the token from the environment or `token_file`. `None` when the provider
    /// declares neither (the embedded server).
    pub fn resolve_token(&self) -> Result<Option<SecretString>, Diagnostic> {
        self.resolve_token_with(interpolate::from_env)
    }

    /// [`Provider::resolve_token`] with variables looked up by `lookup`.
    pub fn resolve_token_with(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<SecretString>, Diagnostic> {
        match &self.token {
            TokenSource::None => Ok(None),
            TokenSource::Value(template) => {
                let token = self.resolve_template(template, lookup)?;
                Ok(Some(SecretString::from(token)))
            }
            TokenSource::File { path, span } => {
                let token = read_token_file(path).map_err(|(message, help)| {
                    Diagnostic::new(format!("provider `{}`: {message}", self.name))
                        .at_in(&self.file, *span, "token file")
                        .help(help)
                })?;
                Ok(Some(SecretString::from(token)))
            }
        }
    }

    fn resolve_template(
        &self,
        template: &SpannedTemplate,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<String, Diagnostic> {
        template.template.resolve(lookup).map_err(|missing| {
            Diagnostic::new(format!(
                "provider `{}`: environment variable `{}` is not set",
                self.name, missing.name
            ))
            .at_in(
                &self.file,
                template.sub_span(missing.offset, missing.len),
                "not set",
            )
            .help(format!(
                "export {}=... before running this command (`validate` does not need it)",
                missing.name
            ))
        })
    }
}

pub(crate) const EMBEDDED_PREFIX: &str = "embedded:";

/// The largest token file read: a token is a few hundred bytes at most.
pub const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// Reads the token in the file at `path`: a regular file (a FIFO, device or directory is
/// refused, never read) of at most [`MAX_TOKEN_FILE_BYTES`], in UTF-8, its token on one line,
/// with a byte order mark and whitespace around it ignored. The error (what is wrong, and what
/// to do) names the file and never quotes what it holds.
fn read_token_file(path: &Path) -> Result<String, (String, &'static str)> {
    let shown = path.display();
    let file = super::load::open_regular(path).map_err(|refusal| match refusal {
        FileRefusal::Io(e) => (
            format!("cannot read token file {shown}: {e}"),
            "create the file, or fix the path (relative to this config file)",
        ),
        refusal => (
            format!("token file {}", refusal.message(path)),
            "name a regular file that holds the token, relative to this config file",
        ),
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_TOKEN_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            (
                format!("cannot read token file {shown}: {e}"),
                "check the file's permissions",
            )
        })?;
    if bytes.len() as u64 > MAX_TOKEN_FILE_BYTES {
        return Err((
            format!(
                "token file {shown} is larger than {} KiB, the most read for a token",
                MAX_TOKEN_FILE_BYTES / 1024
            ),
            "write the API token alone into the file",
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        (
            format!("token file {shown} is not UTF-8 text"),
            "write the API token alone into the file, as text",
        )
    })?;
    let token = text
        .trim_start_matches('\u{feff}')
        .trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if token.is_empty() {
        return Err((
            format!("token file {shown} is empty"),
            "write the API token into the file",
        ));
    }
    if token.contains(['\n', '\r']) {
        return Err((
            format!("token file {shown} holds more than one line"),
            "write the API token alone into the file, on one line",
        ));
    }
    Ok(token.to_owned())
}

/// Parses a resolved provider URL: `embedded:PATH` (relative to `dir`) or an http(s) URL.
pub(crate) fn parse_endpoint(text: &str, dir: &std::path::Path) -> Result<Endpoint, String> {
    if let Some(path) = text.strip_prefix(EMBEDDED_PREFIX) {
        if path.trim().is_empty() {
            return Err(
                "`embedded:` needs the path of the server's store, e.g. `embedded:.scimform/store`"
                    .into(),
            );
        }
        return Ok(Endpoint::Embedded(dir.join(path)));
    }
    let url = reqwest::Url::parse(text).map_err(|e| e.to_string())?;
    match url.scheme() {
        "https" | "http" => {}
        other => {
            return Err(format!(
                "unsupported scheme `{other}`; use https://, http:// or embedded:"
            ));
        }
    }
    if url.host().is_none() {
        return Err("the URL has no host".into());
    }
    Ok(Endpoint::Http(url))
}

pub(crate) fn insecure_http(provider: &str) -> Diagnostic {
    Diagnostic::new(format!(
        "provider `{provider}`: plain http:// to a host other than loopback would send the token unencrypted"
    ))
    .help("use https://, or pass --allow-insecure-http if this network is trusted")
}

/// Where a provider keeps role values: one multi-valued string attribute of an extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleDefinition {
    /// The extension schema URN, e.g. `urn:scim:tonkean`.
    pub schema: String,
    /// The attribute, e.g. `tonkeanRoles`.
    pub attribute: String,
    /// The values the provider accepts.
    pub values: BTreeSet<String>,
    /// How a value is written: a string, or an object with a `value`.
    pub shape: RoleShape,
}

impl RoleDefinition {
    /// The role definition of a preset, from its profile (README, Provider profiles); `None`
    /// for a service without roles.
    #[must_use]
    pub fn of_preset(preset: Preset) -> Option<Self> {
        let roles = preset.profile().roles?;
        Some(RoleDefinition {
            schema: roles.schema.into(),
            attribute: roles.attribute.into(),
            values: roles.values.iter().copied().map(String::from).collect(),
            shape: roles.shape,
        })
    }

    /// Whether the attribute is the core User schema's (`roles`, `entitlements`), not an
    /// extension's.
    #[must_use]
    pub fn is_core(&self) -> bool {
        self.schema.eq_ignore_ascii_case(scim::urn::USER)
    }

    /// The attribute's path for PATCH (RFC 7644 §3.5.2): the full path of an extension
    /// attribute, e.g. `urn:scim:tonkean:tonkeanRoles`; a core attribute's name, e.g. `roles`.
    #[must_use]
    pub fn path(&self) -> String {
        if self.is_core() {
            self.attribute.clone()
        } else {
            format!("{}:{}", self.schema, self.attribute)
        }
    }

    /// The attribute's value holding `values`, in the provider's shape.
    #[must_use]
    pub fn value<'v>(&self, values: impl IntoIterator<Item = &'v String>) -> serde_json::Value {
        let values = values.into_iter().cloned().map(serde_json::Value::String);
        match self.shape {
            RoleShape::Strings => values.collect(),
            RoleShape::Objects => values
                .map(|value| serde_json::json!({ "value": value }))
                .collect(),
        }
    }
}

/// How the requests to a provider are sent: what its `retry`, `rate_limit` and `limits` say; `None`
/// leaves the client's default.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RequestLimits {
    /// Attempts per request, the first included.
    pub attempts: Option<u32>,
    /// No retry starts later than this after a request's first attempt.
    pub deadline: Option<std::time::Duration>,
    /// The most requests per second.
    pub rate_limit: Option<f64>,
    /// The largest response read, in bytes.
    pub response_bytes: Option<usize>,
    /// The most requests one listing may take.
    pub listing_requests: Option<usize>,
    /// The longest one listing may take.
    pub listing_time: Option<std::time::Duration>,
}

/// Safety limits on destructive plans (README, Plans).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxChanges {
    /// Refuse a plan that deprovisions more than this percentage of the provider's users.
    pub delete_percent: u8,
}

impl Default for MaxChanges {
    fn default() -> Self {
        MaxChanges { delete_percent: 10 }
    }
}

/// A user as the config declares it. Each attribute is [`Managed`]: left alone, removed, or
/// set.
#[derive(Clone, Debug)]
pub struct User {
    /// The userName as declared: what is written to servers.
    pub user_name: String,
    /// The userName for matching.
    pub key: UserKey,
    /// Where the user is declared.
    pub span: Span,
    pub name: Managed<Name>,
    pub display_name: Managed<String>,
    pub title: Managed<String>,
    pub active: Managed<bool>,
    pub emails: Managed<Vec<MultiValue>>,
    pub external_id: Managed<String>,
    /// The attributes few users declare, in a box of their own so that the users who declare
    /// none of them (most) take a word for them: `None` when none is declared.
    pub(crate) other: Option<Box<OtherAttributes>>,
    /// The providers that hold this user, shared by the users and groups that name the same.
    pub providers: Arc<BTreeSet<String>>,
    /// A tombstone: the user must be gone.
    pub absent: bool,
    /// Effective roles per provider that has a role definition: direct assignments and those
    /// of the user's groups on that provider. Authoritative (README, Roles). Users with the same
    /// roles share one set.
    pub(crate) roles: Vec<(Arc<str>, Arc<BTreeSet<String>>)>,
}

/// The attributes of a [`User`] that few users declare.
#[derive(Clone, Debug, Default)]
pub struct OtherAttributes {
    pub nick_name: Managed<String>,
    pub user_type: Managed<String>,
    pub preferred_language: Managed<String>,
    pub locale: Managed<String>,
    pub timezone: Managed<String>,
    pub phone_numbers: Managed<Vec<MultiValue>>,
    /// Extension attributes, not including roles.
    pub extensions: Vec<ExtensionAttribute>,
}

impl OtherAttributes {
    /// Whether the user declares none of these attributes.
    fn is_empty(&self) -> bool {
        !self.nick_name.is_managed()
            && !self.user_type.is_managed()
            && !self.preferred_language.is_managed()
            && !self.locale.is_managed()
            && !self.timezone.is_managed()
            && !self.phone_numbers.is_managed()
            && self.extensions.is_empty()
    }

    /// The attributes boxed, or `None` when none is declared.
    pub(crate) fn boxed(self) -> Option<Box<OtherAttributes>> {
        (!self.is_empty()).then(|| Box::new(self))
    }
}

/// What a user that declares none of the [`OtherAttributes`] reads for them.
static UNMANAGED_STRING: Managed<String> = Managed::Unmanaged;
static UNMANAGED_LIST: Managed<Vec<MultiValue>> = Managed::Unmanaged;

impl User {
    fn other_string(
        &self,
        attribute: impl Fn(&OtherAttributes) -> &Managed<String>,
    ) -> &Managed<String> {
        self.other.as_deref().map_or(&UNMANAGED_STRING, attribute)
    }

    #[must_use]
    pub fn nick_name(&self) -> &Managed<String> {
        self.other_string(|o| &o.nick_name)
    }

    #[must_use]
    pub fn user_type(&self) -> &Managed<String> {
        self.other_string(|o| &o.user_type)
    }

    #[must_use]
    pub fn preferred_language(&self) -> &Managed<String> {
        self.other_string(|o| &o.preferred_language)
    }

    #[must_use]
    pub fn locale(&self) -> &Managed<String> {
        self.other_string(|o| &o.locale)
    }

    #[must_use]
    pub fn timezone(&self) -> &Managed<String> {
        self.other_string(|o| &o.timezone)
    }

    #[must_use]
    pub fn phone_numbers(&self) -> &Managed<Vec<MultiValue>> {
        self.other
            .as_deref()
            .map_or(&UNMANAGED_LIST, |o| &o.phone_numbers)
    }

    /// Extension attributes, not including roles.
    #[must_use]
    pub fn extensions(&self) -> &[ExtensionAttribute] {
        self.other.as_deref().map_or(&[], |o| &o.extensions)
    }

    /// Whether `provider` holds this user.
    #[must_use]
    pub fn is_on(&self, provider: &str) -> bool {
        self.providers.contains(provider)
    }

    /// The user's roles on `provider`: `None` when the provider keeps no roles or does not
    /// hold the user, otherwise the complete set the server must hold (possibly empty).
    #[must_use]
    pub fn roles(&self, provider: &str) -> Option<&BTreeSet<String>> {
        self.roles
            .iter()
            .find(|(name, _)| **name == *provider)
            .map(|(_, roles)| &**roles)
    }
}

/// The components of a user's name (RFC 7643 §4.1.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Name {
    pub formatted: Managed<String>,
    pub family_name: Managed<String>,
    pub given_name: Managed<String>,
    pub middle_name: Managed<String>,
    pub honorific_prefix: Managed<String>,
    pub honorific_suffix: Managed<String>,
}

/// One value of a multi-valued attribute (RFC 7643 §2.4). `kind` and `primary` are `None`
/// when the file does not declare them; they are then not compared (README, Users).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiValue {
    pub value: String,
    pub kind: Option<String>,
    pub primary: Option<bool>,
}

/// An extension attribute, e.g. `employeeNumber` of
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtensionAttribute {
    pub schema: String,
    pub name: String,
    pub value: Managed<serde_json::Value>,
}

impl ExtensionAttribute {
    /// The attribute's full path for PATCH, e.g. `urn:...:User:employeeNumber`.
    #[must_use]
    pub fn path(&self) -> String {
        format!("{}:{}", self.schema, self.name)
    }
}

/// A group as the config declares it.
#[derive(Clone, Debug)]
pub struct Group {
    /// The displayName as declared.
    pub display_name: String,
    pub key: GroupKey,
    pub span: Span,
    pub external_id: Managed<String>,
    /// Members, each by its index in [`Config::users`], each once. `Set` is authoritative;
    /// `Remove` (`members: null`) means no members. On each provider, the members are those
    /// the provider holds ([`Config::members_on`]).
    pub members: Managed<Vec<usize>>,
    pub providers: Arc<BTreeSet<String>>,
    pub absent: bool,
}

impl Group {
    #[must_use]
    pub fn is_on(&self, provider: &str) -> bool {
        self.providers.contains(provider)
    }
}

/// Who holds one role value, as declared under `roles:`.
#[derive(Clone, Debug)]
pub struct RoleAssignment {
    pub value: String,
    pub span: Span,
    pub users: Vec<UserKey>,
    pub groups: Vec<GroupKey>,
}
