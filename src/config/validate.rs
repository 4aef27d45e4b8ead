//! From raw declarations to the validated [`Config`]: every check that is about meaning rather
//! than form (README, Errors), all problems collected, none fatal until the end.

use std::collections::BTreeSet;
use std::collections::hash_map::Entry;
use std::mem::take;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::LoadOptions;
use super::collect::{Broken, Declarations};
use super::diagnostic::{Diagnostic, Errors};
use super::interpolate::{Template, references};
use super::managed::Managed;
use super::model::{
    Config, EMBEDDED_PREFIX, Endpoint, ExtensionAttribute, Group, GroupKey, MaxChanges, MultiValue,
    Name, OtherAttributes, Provider, RequestLimits, RoleAssignment, RoleDefinition, RoleShape,
    SpannedTemplate, TokenSource, User, UserKey, insecure_http, key_text, parse_endpoint,
};
use super::source::{SourceFile, Sources, Span};
use super::spanned::Spanned;
use super::suggest::{Suggestions, closest};
use super::written::{
    Deprovision, Preset, RawExtensions, RawGroup, RawLimits, RawMultiValue, RawName, RawProvider,
    RawRetry, RawRoleAssignment, RawRoleDefinition, RawUser,
};

/// A multi-valued user attribute a service may limit.
#[derive(Clone, Copy)]
enum Attribute {
    Emails,
    PhoneNumbers,
}

impl Attribute {
    fn name(self) -> &'static str {
        match self {
            Attribute::Emails => "emails",
            Attribute::PhoneNumbers => "phoneNumbers",
        }
    }
}

pub(crate) fn build(
    declarations: Declarations,
    sources: &Sources,
    options: LoadOptions,
    errors: &mut Errors,
) -> Config {
    let mut v = Validator {
        sources,
        options,
        errors,
        broken: declarations.broken,
        complete: declarations.complete,
        set_aside: declarations.set_aside,
        unknown_roles: HashSet::new(),
        unsure_users: HashSet::new(),
        unsure_groups: HashSet::new(),
        unknown_members: HashSet::new(),
        provider_sets: HashMap::new(),
        every_provider: Arc::default(),
        user_suggestions: None,
        group_suggestions: None,
    };
    let providers = v.providers(
        declarations.providers,
        declarations.complete,
        declarations.start,
    );
    let every_provider: BTreeSet<String> = providers.iter().map(|p| p.name.clone()).collect();
    v.every_provider = v.provider_set(every_provider);
    let (mut users, user_index) = v.users(declarations.users, &providers);
    let (groups, group_index) = v.groups(declarations.groups, &providers, &users, &user_index);
    let roles = v.roles(
        declarations.roles,
        &providers,
        &mut users,
        &user_index,
        &groups,
        &group_index,
    );
    let file_digests = sources.digests();
    Config {
        providers,
        users,
        groups,
        roles,
        user_index,
        group_index,
        digest: crate::digest::of_config_files(&file_digests),
        file_digests,
    }
}

struct Validator<'a> {
    sources: &'a Sources,
    options: LoadOptions,
    errors: &'a mut Errors,
    /// Declarations already reported malformed: references to them are not errors of their
    /// own, so one mistake is reported once.
    broken: Broken,
    /// Whether every file parsed. When one did not, a name that resolves to nothing may be
    /// declared in it: such a reference is not reported (the file's syntax error is).
    complete: bool,
    /// The keys set aside from declarations read in part, by the declaration's span.
    set_aside: HashMap<Span, Vec<String>>,
    // What an error left unknown. A declaration with an error is still validated and still
    // known to the declarations that name it, with all that it says well; these say what it
    // may have meant to say, so that nothing that follows from the error is reported as an
    // error of its own.
    /// Providers whose roles are unknown (a misspelt `preset`, a `roles` definition with no
    /// valid value): they may keep any role.
    unknown_roles: HashSet<String>,
    /// Users (by index) whose providers are unknown: a `providers` list that names a provider
    /// not declared, names none, or does not read.
    unsure_users: HashSet<usize>,
    /// Groups (by index) whose providers are unknown.
    unsure_groups: HashSet<usize>,
    /// Groups (by index) whose `members` did not read.
    unknown_members: HashSet<usize>,
    /// The sets of providers that users and groups are on, each held once: most users name
    /// none and so are on every provider.
    provider_sets: HashMap<BTreeSet<String>, Arc<BTreeSet<String>>>,
    /// The names of all valid providers: where a user or group with no `providers` is.
    every_provider: Arc<BTreeSet<String>>,
    /// "Did you mean" among the userNames and displayNames, indexed on the first reference
    /// that names nobody.
    user_suggestions: Option<Suggestions>,
    group_suggestions: Option<Suggestions>,
}

impl Validator<'_> {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.errors.push(diagnostic);
    }

    fn file(&self, span: Span) -> Arc<SourceFile> {
        Arc::clone(self.sources.get(span.source()))
    }

    /// Reports `name` declared a second time at `span`, first at `first`.
    fn duplicate(&mut self, what: &str, name: &str, span: Span, first: Span) {
        let first_text = self.sources.get(first.source()).display_text();
        let first_name = first_text
            .get(first.start()..first.start() + first.len())
            .map(|t| t.trim_matches(['"', '\'']));
        let message = match first_name {
            // SCIM matches userNames and displayNames case-insensitively (RFC 7643 §4).
            Some(first_name) if first_name != name && first_name.eq_ignore_ascii_case(name) => {
                format!(
                    "{what} `{name}` is declared twice (as `{first_name}` first; names match case-insensitively)"
                )
            }
            _ => format!("{what} `{name}` is declared twice"),
        };
        let diagnostic = Diagnostic::new(message)
            .at(self.sources, span, "declared again here")
            .also(self.sources, first, "first declared here")
            .help(format!(
                "keep one declaration of {what} `{name}` and delete the other"
            ));
        self.error(diagnostic);
    }

    // ---- providers -------------------------------------------------------------------------

    fn providers(
        &mut self,
        raw: Vec<(Spanned<String>, Spanned<RawProvider>)>,
        complete: bool,
        start: Option<Span>,
    ) -> Vec<Provider> {
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mut providers = Vec::new();
        let mut any_declared = false;
        for (name, provider) in raw {
            any_declared = true;
            if let Some(&first) = seen.get(&name.value) {
                self.duplicate("provider", &name.value, name.span, first);
                continue;
            }
            seen.insert(name.value.clone(), name.span);
            providers.push(self.provider(name, provider));
        }
        if let Some(start) = start.filter(|_| !any_declared && complete && self.errors.is_empty()) {
            self.error(
                Diagnostic::new("no provider is declared")
                    .at(self.sources, start, "no `providers:` in the config")
                    .help("declare at least one SCIM endpoint under `providers:`, e.g. `local: { url: embedded:.scimform/local }`"),
            );
        }
        providers
    }

    /// The provider `raw` declares. One with errors is still returned, with what it says
    /// well (its preset, its roles), so that its users and groups are checked against it.
    fn provider(&mut self, name: Spanned<String>, raw: Spanned<RawProvider>) -> Provider {
        let file = self.file(name.span);
        let provider = name.value.as_str();
        let set_aside = self.set_aside.remove(&raw.span).unwrap_or_default();
        let unread = |key: &str| set_aside.iter().any(|k| k == key);
        let raw = raw.value;

        if !is_provider_name(provider) && !unexpanded(provider) {
            self.error(
                Diagnostic::new(format!("`{provider}` is not a valid provider name"))
                    .at(self.sources, name.span, "invalid name")
                    .help("name providers with letters, digits, `-` and `_`, starting with a letter (they are typed on the command line)"),
            );
        }

        if raw.url.is_none() && !unread("url") {
            self.error(
                Diagnostic::new(format!("provider `{provider}` has no `url`"))
                    .at(self.sources, name.span, "no `url` under this provider")
                    .help("add `url: https://HOST/scim/v2`, or `url: embedded:.scimform/NAME` for the built-in server"),
            );
        }
        let url = raw
            .url
            .and_then(|url| self.template(&file, url, provider, "url"));
        // Without a URL that reads, the provider is known by its name and settings only, and
        // whether it needs a token is unknown.
        let url_known = url.is_some();
        let url = url.unwrap_or_else(|| SpannedTemplate {
            text: String::new(),
            template: Template::parse("").expect("an empty template parses"),
            span: name.span,
            text_offset: None,
        });
        let embedded = url.text.starts_with(EMBEDDED_PREFIX);
        if url.template.is_literal() && !url.text.is_empty() {
            match parse_endpoint(&url.text, file.dir()) {
                Err(message) => self.error(
                    Diagnostic::new(format!("provider `{provider}`: invalid URL: {message}"))
                        .at(self.sources, url.span, "invalid URL")
                        .help("write the SCIM base URL, e.g. https://tonkean.example.com/scim/v2, or embedded:PATH"),
                ),
                Ok(endpoint @ Endpoint::Http(_))
                    if !self.options.allow_insecure_http && !endpoint.is_secure() =>
                {
                    self.error(insecure_http(provider).at(self.sources, url.span, "plain http"));
                }
                Ok(_) => {}
            }
        }

        // A token that did not read is reported already: not as missing too.
        let token_unread = unread("token") || unread("token_file");
        let token = self.token_source(
            &file,
            &name,
            embedded || token_unread || !url_known,
            raw.token,
            raw.token_file,
        );

        let preset = raw.preset.map(|p| p.value);
        let roles = self.provider_roles(provider, preset, raw.roles);
        if roles.is_none() && (unread("preset") || unread("roles")) {
            self.unknown_roles.insert(name.value.clone());
        }
        let auth_scheme = self.auth_scheme(provider, preset, raw.auth_scheme);

        let mut max_changes = MaxChanges::default();
        if let Some(percent) = raw.max_changes.and_then(|m| m.value.delete_percent) {
            if percent.value > 100 {
                self.error(
                    Diagnostic::new("`delete_percent` is a percentage")
                        .at(self.sources, percent.span, "more than 100")
                        .help("write a number from 0 to 100"),
                );
            }
            max_changes.delete_percent = percent.value;
        }

        let mut requests = self.request_limits(provider, raw.rate_limit, raw.retry);
        // A service's documented rate is the ceiling until the config says otherwise.
        if requests.rate_limit.is_none() {
            requests.rate_limit = preset.and_then(|p| p.profile().rate_limit);
        }
        if let Some(limits) = raw.limits {
            self.read_limits(provider, limits.value, &mut requests);
        }

        Provider {
            name: name.value,
            span: name.span,
            file,
            url,
            token,
            auth_scheme,
            preset,
            roles,
            prune: raw.prune.is_some_and(|p| p.value),
            deprovision: raw.deprovision.map_or_else(
                || {
                    preset
                        .map(|p| Deprovision::of_profile(p.profile()))
                        .unwrap_or_default()
                },
                |d| d.value,
            ),
            max_changes,
            requests,
        }
    }

    /// A provider's `rate_limit` and `retry`.
    fn request_limits(
        &mut self,
        provider: &str,
        rate_limit: Option<Spanned<String>>,
        retry: Option<Spanned<RawRetry>>,
    ) -> RequestLimits {
        let mut limits = RequestLimits::default();
        if let Some(rate) = rate_limit {
            match parse_rate(&rate.value) {
                Some(per_second) => limits.rate_limit = Some(per_second),
                None if unexpanded(&rate.value) => {}
                None => self.error(
                    Diagnostic::new(format!(
                        "provider `{provider}`: `rate_limit` is not a rate: {:?}",
                        rate.value
                    ))
                    .at(self.sources, rate.span, "not a rate")
                    .help("write requests per second or per minute, e.g. `40/s` or `600/min`"),
                ),
            }
        }
        let Some(retry) = retry else {
            return limits;
        };
        if let Some(attempts) = retry.value.attempts {
            if (1..=100).contains(&attempts.value) {
                limits.attempts = Some(attempts.value);
            } else {
                self.error(
                    Diagnostic::new(format!(
                        "provider `{provider}`: `retry.attempts` must be from 1 to 100"
                    ))
                    .at(self.sources, attempts.span, "out of range")
                    .help("the first attempt counts: 1 never retries, 9 is the default"),
                );
            }
        }
        if let Some(deadline) = retry.value.deadline {
            match humantime::parse_duration(deadline.value.trim()) {
                Ok(duration) => limits.deadline = Some(duration),
                Err(_) if unexpanded(&deadline.value) => {}
                Err(_) => self.error(
                    Diagnostic::new(format!(
                        "provider `{provider}`: `retry.deadline` is not a duration: {:?}",
                        deadline.value
                    ))
                    .at(self.sources, deadline.span, "not a duration")
                    .help("write a duration such as `90s`, `2m` or `1m 30s`"),
                ),
            }
        }
        limits
    }

    /// A provider's `limits`.
    fn read_limits(&mut self, provider: &str, raw: RawLimits, limits: &mut RequestLimits) {
        if let Some(size) = raw.response_size {
            match size.value.trim().parse::<bytesize::ByteSize>() {
                Ok(bytes) if bytes.as_u64() >= 1024 => {
                    limits.response_bytes =
                        Some(usize::try_from(bytes.as_u64()).unwrap_or(usize::MAX));
                }
                _ if unexpanded(&size.value) => {}
                _ => self.error(
                    Diagnostic::new(format!(
                        "provider `{provider}`: `limits.response_size` is not a size of 1 KiB or \
                         more: {:?}",
                        size.value
                    ))
                    .at(self.sources, size.span, "not a size")
                    .help("write a size such as `64 MiB` (the default) or `200 MB`"),
                ),
            }
        }
        if let Some(requests) = raw.listing_requests {
            match usize::try_from(requests.value) {
                Ok(count) if count >= 1 => limits.listing_requests = Some(count),
                _ => self.error(
                    Diagnostic::new(format!(
                        "provider `{provider}`: `limits.listing_requests` must be at least 1"
                    ))
                    .at(self.sources, requests.span, "out of range")
                    .help("10000 is the default"),
                ),
            }
        }
        if let Some(time) = raw.listing_time {
            match humantime::parse_duration(time.value.trim()) {
                Ok(duration) if !duration.is_zero() => limits.listing_time = Some(duration),
                _ if unexpanded(&time.value) => {}
                _ => self.error(
                    Diagnostic::new(format!(
                        "provider `{provider}`: `limits.listing_time` is not a duration: {:?}",
                        time.value
                    ))
                    .at(self.sources, time.span, "not a duration")
                    .help("write a duration such as `10m` or `1h`; `30m` is the default"),
                ),
            }
        }
    }

    fn token_source(
        &mut self,
        file: &SourceFile,
        name: &Spanned<String>,
        // An `embedded:` provider needs none, and one whose URL or token did not read is
        // reported already.
        token_optional: bool,
        token: Option<Spanned<String>>,
        token_file: Option<Spanned<String>>,
    ) -> TokenSource {
        let provider = name.value.as_str();
        match (token, token_file) {
            (Some(_), Some(file_path)) => {
                self.error(
                    Diagnostic::new(format!(
                        "provider `{provider}` declares both `token` and `token_file`"
                    ))
                    .at(self.sources, file_path.span, "conflicts with `token`")
                    .help("keep one of `token` and `token_file`"),
                );
                TokenSource::None
            }
            (Some(token), None) => match self.template(file, token, provider, "token") {
                Some(template) if template.template.single_var().is_some() => {
                    TokenSource::Value(template)
                }
                Some(template) => {
                    // Literal text, whole or around a reference (`${HOME}s3cret`), would be a
                    // secret committed with the config: a token is one variable's value.
                    let (message, label) = if template.template.is_literal() {
                        (
                            "the token is written into the config file",
                            "a literal token",
                        )
                    } else if template.template.vars().nth(1).is_some() {
                        (
                            "the token joins several `${VAR}` references",
                            "not exactly one `${VAR}`",
                        )
                    } else {
                        (
                            "the token mixes literal text with a `${VAR}` reference",
                            "literal text in the token",
                        )
                    };
                    self.error(
                        Diagnostic::new(format!("provider `{provider}`: {message}"))
                            .at(self.sources, template.span, label)
                            .help(format!(
                                "never commit a token: write `token: ${{{}}}` (exactly one reference, nothing around it) and export that variable, or use `token_file: PATH`",
                                token_var(provider)
                            )),
                    );
                    TokenSource::None
                }
                None => TokenSource::None,
            },
            (None, Some(path)) => {
                if path.value.trim().is_empty() {
                    self.error(
                        Diagnostic::new(format!("provider `{provider}`: `token_file` is empty"))
                            .at(self.sources, path.span, "empty path")
                            .help("write the path of the file holding the token, relative to this config file"),
                    );
                }
                TokenSource::File {
                    path: file.dir().join(&path.value),
                    span: path.span,
                }
            }
            (None, None) => {
                if !token_optional {
                    self.error(
                        Diagnostic::new(format!("provider `{provider}` has no token"))
                            .at(self.sources, name.span, "no `token` or `token_file`")
                            .help(format!(
                                "add `token: ${{{}}}` (read from the environment) or `token_file: PATH`",
                                token_var(provider)
                            )),
                    );
                }
                TokenSource::None
            }
        }
    }

    fn provider_roles(
        &mut self,
        provider: &str,
        preset: Option<Preset>,
        roles: Option<Spanned<RawRoleDefinition>>,
    ) -> Option<RoleDefinition> {
        match (preset, roles) {
            (Some(_), Some(roles)) => {
                self.error(
                    Diagnostic::new(format!(
                        "provider `{provider}` declares both `preset` and `roles`"
                    ))
                    .at(self.sources, roles.span, "conflicts with `preset`")
                    .help("the preset already defines the roles: remove `roles`, or remove `preset` and keep `roles`"),
                );
                // Which of the two was meant is unknown.
                self.unknown_roles.insert(provider.to_owned());
                None
            }
            (Some(preset), None) => RoleDefinition::of_preset(preset),
            (None, Some(roles)) => {
                let definition = self.role_definition(provider, roles.value);
                if definition.is_none() {
                    self.unknown_roles.insert(provider.to_owned());
                }
                definition
            }
            (None, None) => None,
        }
    }

    fn auth_scheme(
        &mut self,
        provider: &str,
        preset: Option<Preset>,
        auth_scheme: Option<Spanned<String>>,
    ) -> String {
        match auth_scheme {
            Some(scheme) => {
                if (scheme.value.is_empty() || scheme.value.contains(char::is_whitespace))
                    && !unexpanded(&scheme.value)
                {
                    self.error(
                        Diagnostic::new(format!(
                            "provider `{provider}`: `auth_scheme` must be one word"
                        ))
                        .at(self.sources, scheme.span, "not a scheme")
                        .help("write the word that precedes the token in the Authorization header, e.g. `Bearer` or `token`"),
                    );
                }
                scheme.value
            }
            None => preset
                .map_or("Bearer", |p| p.profile().auth_scheme)
                .to_owned(),
        }
    }

    /// Parses a `${VAR}` template, locating malformed references in the file.
    fn template(
        &mut self,
        file: &SourceFile,
        value: Spanned<String>,
        provider: &str,
        key: &str,
    ) -> Option<SpannedTemplate> {
        let text_offset = file.text_offset(value.span, &value.value);
        match Template::parse(&value.value) {
            Ok(template) => Some(SpannedTemplate {
                text: value.value,
                template,
                span: value.span,
                text_offset,
            }),
            Err(e) => {
                let span =
                    text_offset.map_or(value.span, |start| value.span.sub(start + e.offset, e.len));
                // A token's text is never shown, malformed or not.
                let message = if key == "token" {
                    e.summary.to_owned()
                } else {
                    e.message
                };
                self.error(
                    Diagnostic::new(format!("provider `{provider}`: `{key}`: {message}"))
                        .at(self.sources, span, "malformed reference")
                        .help("write `${NAME}` with NAME made of letters, digits and `_`; write `$$` for a literal `$`"),
                );
                None
            }
        }
    }

    /// A provider's `roles` definition, with the values that are well-formed even when the
    /// rest of it has errors; `None` when it lists no such value.
    fn role_definition(
        &mut self,
        provider: &str,
        raw: RawRoleDefinition,
    ) -> Option<RoleDefinition> {
        if !is_urn(&raw.schema.value) && !unexpanded(&raw.schema.value) {
            self.error(
                Diagnostic::new(format!(
                    "provider `{provider}`: the roles schema `{}` is not a URN",
                    raw.schema.value
                ))
                .at(self.sources, raw.schema.span, "not a URN")
                .help("write the extension's schema URN, e.g. `urn:scim:tonkean`"),
            );
        }
        if !is_attribute_name(&raw.attribute.value) && !unexpanded(&raw.attribute.value) {
            self.error(
                Diagnostic::new(format!(
                    "provider `{provider}`: `{}` is not a SCIM attribute name",
                    raw.attribute.value
                ))
                .at(self.sources, raw.attribute.span, "not an attribute name")
                .help("write the attribute's name, e.g. `tonkeanRoles` (letters, digits, `_`, `-`, starting with a letter)"),
            );
        }
        if raw.values.value.is_empty() {
            self.error(
                Diagnostic::new(format!("provider `{provider}`: no role values are listed"))
                    .at(self.sources, raw.values.span, "empty list")
                    .help("list the role values the provider accepts"),
            );
        }
        let mut values = BTreeSet::new();
        for value in raw.values.value {
            if value.value.trim().is_empty() {
                self.error(
                    Diagnostic::new(format!("provider `{provider}`: a role value is empty"))
                        .at(self.sources, value.span, "empty role value")
                        .help("remove it"),
                );
            } else if !values.insert(value.value.clone()) {
                self.error(
                    Diagnostic::new(format!(
                        "provider `{provider}`: role value `{}` is listed twice",
                        value.value
                    ))
                    .at(self.sources, value.span, "listed again")
                    .help("remove the repetition"),
                );
            }
        }
        (!values.is_empty()).then(|| {
            let mut definition = RoleDefinition {
                schema: raw.schema.value,
                attribute: raw.attribute.value,
                values,
                shape: RoleShape::Strings,
            };
            // The core User schema's `roles` and `entitlements` are complex (RFC 7643 §4.1.2):
            // their values are objects with a `value`. An extension's are plain strings.
            if definition.is_core() {
                definition.shape = RoleShape::Objects;
            }
            definition
        })
    }

    // ---- users -----------------------------------------------------------------------------

    fn users(
        &mut self,
        raw: Vec<Vec<Spanned<RawUser>>>,
        providers: &[Provider],
    ) -> (Vec<User>, HashMap<UserKey, usize>) {
        let count = raw.iter().map(Vec::len).sum();
        let mut users: Vec<User> = Vec::with_capacity(count);
        let mut index: HashMap<UserKey, usize> = HashMap::with_capacity(count);
        // Each user is read in place and its values taken out of it, rather than the whole
        // declaration moved out of its list: a `RawUser` is several hundred bytes.
        for mut section in raw {
            for user in &mut section {
                self.user_entry(user, providers, &mut users, &mut index);
            }
        }
        (users, index)
    }

    /// Validates one declared user into `users`, unless its userName is empty or taken. A
    /// user with errors is added all the same: it is declared, and what names it is right to.
    fn user_entry(
        &mut self,
        raw: &mut Spanned<RawUser>,
        providers: &[Provider],
        users: &mut Vec<User>,
        index: &mut HashMap<UserKey, usize>,
    ) {
        let set_aside = if self.set_aside.is_empty() {
            None
        } else {
            self.set_aside.remove(&raw.span)
        };
        let raw = &mut raw.value;
        let user_name = &raw.user_name;
        if user_name.value.trim().is_empty() {
            self.error(
                Diagnostic::new("a user has an empty `userName`")
                    .at(self.sources, user_name.span, "empty userName")
                    .help("write the user's unique sign-in name, usually an email address"),
            );
            return;
        }
        // One lookup of the key serves both the check for a duplicate and the insertion.
        let slot = match index.entry(UserKey::new(&user_name.value)) {
            Entry::Occupied(taken) => {
                let first = users[*taken.get()].span;
                self.duplicate("user", &user_name.value, user_name.span, first);
                // The second declaration's own mistakes are reported too; references resolve
                // to the first.
                let key = taken.key().clone();
                let _ = self.user(raw, key, providers);
                return;
            }
            Entry::Vacant(slot) => slot,
        };
        let key = slot.key().clone();
        let providers_unread = set_aside.is_some_and(|keys| keys.iter().any(|k| k == "providers"));
        let (user, sure) = self.user(raw, key, providers);
        if !sure || providers_unread {
            self.unsure_users.insert(users.len());
        }
        slot.insert(users.len());
        users.push(user);
    }

    /// The user `raw` declares, its values taken out of `raw`, and whether its providers are
    /// known (see [`Validator::provider_list`]).
    fn user(&mut self, raw: &mut RawUser, key: UserKey, providers: &[Provider]) -> (User, bool) {
        let user_name = raw.user_name.value.as_str();
        let (on, sure) = self.provider_list(
            raw.providers.take().map(|list| *list),
            providers,
            "user",
            user_name,
        );

        let emails = managed_list(take(&mut raw.emails)).map(|emails| {
            emails
                .into_iter()
                .map(|email| {
                    let value = Self::multi_value(email);
                    if !is_email(&value.value.value) && !unexpanded(&value.value.value) {
                        self.error(
                            Diagnostic::new(format!(
                                "user `{user_name}`: `{}` is not an email address",
                                value.value.value
                            ))
                            .at(self.sources, value.value.span, "malformed email")
                            .help("write an address like ada@example.com"),
                        );
                    }
                    value
                })
                .collect::<Vec<_>>()
        });
        if let Managed::Set(emails) = &emails {
            self.one_primary(emails, user_name, "emails");
            self.no_repeats(emails, user_name, "emails");
        }
        let phone_numbers = take(&mut raw.phone_numbers).map(|v| v.value).map(|phones| {
            phones
                .into_iter()
                .map(|phone| {
                    let value = Self::multi_value(phone);
                    if value.value.value.trim().is_empty() {
                        self.error(
                            Diagnostic::new(format!("user `{user_name}`: a phone number is empty"))
                                .at(self.sources, value.value.span, "empty")
                                .help("write the number, e.g. +1 555 0100, or remove the entry"),
                        );
                    }
                    value
                })
                .collect::<Vec<_>>()
        });
        if let Managed::Set(phones) = &phone_numbers {
            self.one_primary(phones, user_name, "phoneNumbers");
        }
        if let Managed::Set(emails) = &emails {
            self.within_profiles(emails, user_name, &on, providers, Attribute::Emails);
        }
        if let Managed::Set(phones) = &phone_numbers {
            self.within_profiles(phones, user_name, &on, providers, Attribute::PhoneNumbers);
        }

        let extensions = match raw.extensions.take() {
            Some(extensions) => self.extensions(extensions.value, user_name, &on, providers),
            None => Vec::new(),
        };

        let user = User {
            user_name: take(&mut raw.user_name.value),
            key,
            span: raw.user_name.span,
            name: take(&mut raw.name).map(|name| name_of(name.value)),
            display_name: plain(take(&mut raw.display_name)),
            title: plain(take(&mut raw.title)),
            active: plain(take(&mut raw.active)),
            emails: emails.map(|list| list.into_iter().map(finish_multi_value).collect()),
            external_id: plain(take(&mut raw.external_id)),
            other: OtherAttributes {
                nick_name: plain_boxed(take(&mut raw.nick_name)),
                user_type: plain_boxed(take(&mut raw.user_type)),
                preferred_language: plain_boxed(take(&mut raw.preferred_language)),
                locale: plain_boxed(take(&mut raw.locale)),
                timezone: plain_boxed(take(&mut raw.timezone)),
                phone_numbers: phone_numbers
                    .map(|list| list.into_iter().map(finish_multi_value).collect()),
                extensions,
            }
            .boxed(),
            providers: on,
            absent: raw.absent.as_ref().is_some_and(|a| a.value),
            roles: Vec::new(),
        };
        (user, sure)
    }

    /// A user's emails or phone numbers are no more than each of its providers' services
    /// holds (README, Provider profiles): the first value past the limit is reported, once per
    /// user, naming the provider and its service.
    fn within_profiles(
        &mut self,
        values: &[SpannedMultiValue],
        user_name: &str,
        on: &BTreeSet<String>,
        providers: &[Provider],
        attribute: Attribute,
    ) {
        let limited = providers
            .iter()
            .filter(|p| on.contains(&p.name))
            .find_map(|p| {
                let profile = p.preset?.profile();
                let most = match attribute {
                    Attribute::Emails => profile.max_emails,
                    Attribute::PhoneNumbers => profile.max_phone_numbers,
                }?;
                (values.len() > most).then_some((p, profile, most))
            });
        let Some((provider, profile, most)) = limited else {
            return;
        };
        let name = attribute.name();
        let plural = if most == 1 { "" } else { "s" };
        self.error(
            Diagnostic::new(format!(
                "user `{user_name}` has {} {name}, but provider `{}` ({}) holds at most {most}",
                values.len(),
                provider.name,
                profile.title,
            ))
            .at(
                self.sources,
                values[most].value.span,
                format!("{name} past the first {most}"),
            )
            .help(format!(
                "keep {most} value{plural}, or put this user on another provider with `providers:` \
                 (see {})",
                profile.page()
            )),
        );
    }

    fn multi_value(raw: Spanned<RawMultiValue>) -> SpannedMultiValue {
        match raw.value {
            RawMultiValue::Short(value) => SpannedMultiValue {
                value: Spanned::new(value, raw.span),
                kind: None,
                primary: None,
            },
            RawMultiValue::Full(full) => SpannedMultiValue {
                value: full.value,
                kind: full.kind.map(|k| k.value),
                primary: full.primary,
            },
        }
    }

    /// Multi-valued attributes compare as sets (README, Users), emails case-insensitively: a value
    /// written twice is a mistake.
    fn no_repeats(&mut self, values: &[SpannedMultiValue], user_name: &str, attribute: &str) {
        for (i, value) in values.iter().enumerate() {
            let first = values[..i]
                .iter()
                .find(|earlier| earlier.value.value.eq_ignore_ascii_case(&value.value.value));
            if let Some(first) = first {
                self.error(
                    Diagnostic::new(format!(
                        "user `{user_name}`: `{}` is listed twice in its {attribute}",
                        value.value.value
                    ))
                    .at(self.sources, value.value.span, "listed again")
                    .also(self.sources, first.value.span, "first listed here")
                    .help("remove the repetition"),
                );
            }
        }
    }

    fn one_primary(&mut self, values: &[SpannedMultiValue], user_name: &str, attribute: &str) {
        let primaries: Vec<Span> = values
            .iter()
            .filter_map(|v| v.primary.as_ref().filter(|p| p.value).map(|p| p.span))
            .collect();
        if let [first, second, ..] = primaries[..] {
            self.error(
                Diagnostic::new(format!(
                    "user `{user_name}`: more than one of its {attribute} is primary"
                ))
                .at(self.sources, second, "second primary")
                .also(self.sources, first, "first primary")
                .help("RFC 7643 §2.4 allows one primary value: keep `primary: true` on one"),
            );
        }
    }

    fn extensions(
        &mut self,
        raw: RawExtensions,
        user_name: &str,
        on: &BTreeSet<String>,
        providers: &[Provider],
    ) -> Vec<ExtensionAttribute> {
        let mut out = Vec::new();
        for (schema, attributes) in raw.entries {
            if !is_urn(&schema.value) && !unexpanded(&schema.value) {
                self.error(
                    Diagnostic::new(format!(
                        "user `{user_name}`: extension `{}` is not a schema URN",
                        schema.value
                    ))
                    .at(self.sources, schema.span, "not a URN")
                    .help("key extension attributes by their schema URN, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`"),
                );
                continue;
            }
            if schema.value.eq_ignore_ascii_case(scim::urn::USER) {
                self.error(
                    Diagnostic::new(format!(
                        "user `{user_name}`: core User attributes are not extensions"
                    ))
                    .at(self.sources, schema.span, "the core schema")
                    .help("declare core attributes (displayName, title, ...) directly on the user"),
                );
                continue;
            }
            for (attribute, value) in attributes.entries {
                if !is_attribute_name(&attribute.value) && !unexpanded(&attribute.value) {
                    self.error(
                        Diagnostic::new(format!(
                            "user `{user_name}`: `{}` is not a SCIM attribute name",
                            attribute.value
                        ))
                        .at(self.sources, attribute.span, "not an attribute name")
                        .help("attribute names start with a letter and hold letters, digits, `_` and `-`"),
                    );
                    continue;
                }
                let role_provider = providers.iter().find(|p| {
                    on.contains(&p.name)
                        && p.roles.as_ref().is_some_and(|r| {
                            r.schema.eq_ignore_ascii_case(&schema.value)
                                && r.attribute.eq_ignore_ascii_case(&attribute.value)
                        })
                });
                if let Some(p) = role_provider {
                    self.error(
                        Diagnostic::new(format!(
                            "user `{user_name}`: `{}:{}` holds the roles of provider `{}`",
                            schema.value, attribute.value, p.name
                        ))
                        .at(self.sources, attribute.span, "role attribute")
                        .help(format!(
                            "assign roles under the top-level `roles:` key instead, e.g. `roles: {{ ROLE: {{ users: [{user_name}] }} }}`"
                        )),
                    );
                    continue;
                }
                out.push(ExtensionAttribute {
                    schema: schema.value.clone(),
                    name: attribute.value,
                    value: match value.value {
                        serde_json::Value::Null => Managed::Remove,
                        other => Managed::Set(other),
                    },
                });
            }
        }
        out
    }

    /// Resolves a `providers:` list of a user or group; `None` means every provider. Also
    /// says whether the list is what was meant: not when it is empty or names a provider that
    /// is not declared, so that what follows from the mistake is not reported too.
    fn provider_list(
        &mut self,
        raw: Option<Spanned<Vec<Spanned<String>>>>,
        providers: &[Provider],
        what: &str,
        name: &str,
    ) -> (Arc<BTreeSet<String>>, bool) {
        let Some(list) = raw else {
            return (Arc::clone(&self.every_provider), true);
        };
        let mut sure = !list.value.is_empty();
        if list.value.is_empty() {
            self.error(
                Diagnostic::new(format!("{what} `{name}` is on no provider"))
                    .at(self.sources, list.span, "empty list")
                    .help(
                        "list at least one provider, or remove `providers` to mean every provider",
                    ),
            );
        }
        let mut on = BTreeSet::new();
        for provider in list.value {
            if providers.iter().any(|p| p.name == provider.value) {
                on.insert(provider.value);
                continue;
            }
            sure = false;
            if self.complete
                && !self.broken.providers.contains(&provider.value)
                && !unexpanded(&provider.value)
            {
                let known: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
                let help = match closest(&provider.value, known.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None if known.is_empty() => "declare it under `providers:`".into(),
                    None => format!(
                        "declare it under `providers:`, or use one of: {}",
                        known.join(", ")
                    ),
                };
                self.error(
                    Diagnostic::new(format!(
                        "{what} `{name}` names provider `{}`, which is not declared",
                        provider.value
                    ))
                    .at(self.sources, provider.span, "unknown provider")
                    .help(help),
                );
            }
        }
        (self.provider_set(on), sure)
    }

    /// The shared copy of a set of providers.
    fn provider_set(&mut self, on: BTreeSet<String>) -> Arc<BTreeSet<String>> {
        Arc::clone(
            self.provider_sets
                .entry(on)
                .or_insert_with_key(|on| Arc::new(on.clone())),
        )
    }

    // ---- groups ----------------------------------------------------------------------------

    fn groups(
        &mut self,
        raw: Vec<Spanned<RawGroup>>,
        providers: &[Provider],
        users: &[User],
        user_index: &HashMap<UserKey, usize>,
    ) -> (Vec<Group>, HashMap<GroupKey, usize>) {
        let mut groups: Vec<Group> = Vec::new();
        let mut index: HashMap<GroupKey, usize> = HashMap::new();
        // The users already listed as members of the group at hand.
        let mut member_indices: HashSet<usize> = HashSet::new();
        for group in raw {
            let set_aside = if self.set_aside.is_empty() {
                None
            } else {
                self.set_aside.remove(&group.span)
            };
            let unread = |key: &str| {
                set_aside
                    .as_ref()
                    .is_some_and(|keys| keys.iter().any(|k| k == key))
            };
            let RawGroup {
                display_name,
                external_id,
                members,
                providers: on,
                absent,
            } = group.value;
            if display_name.value.trim().is_empty() {
                self.error(
                    Diagnostic::new("a group has an empty `displayName`")
                        .at(self.sources, display_name.span, "empty displayName")
                        .help("write the group's unique name"),
                );
                continue;
            }
            let key = GroupKey::new(&display_name.value);
            if let Some(&first) = index.get(&key) {
                let first = groups[first].span;
                self.duplicate("group", &display_name.value, display_name.span, first);
                continue;
            }
            // A group with errors is kept all the same: it is declared, and what names it is
            // right to.
            let g = groups.len();
            let (on, sure) = self.provider_list(on, providers, "group", &display_name.value);
            if !sure || unread("providers") {
                self.unsure_groups.insert(g);
            }
            if unread("members") {
                self.unknown_members.insert(g);
            }
            let absent = absent.is_some_and(|a| a.value);
            let members = managed_list(members).map(|list| {
                let mut keys = Vec::with_capacity(list.len());
                member_indices.clear();
                for member in list {
                    if let Some(i) = self.user_ref(&member, users, user_index, || {
                        format!("member of group `{}`", display_name.value)
                    }) {
                        let user = &users[i];
                        let sure =
                            !self.unsure_groups.contains(&g) && !self.unsure_users.contains(&i);
                        if !absent && sure {
                            self.member_providers(user, &member, &display_name.value, &on);
                        }
                        if member_indices.insert(i) {
                            keys.push(i);
                        }
                    }
                }
                keys
            });
            index.insert(key.clone(), g);
            groups.push(Group {
                display_name: display_name.value,
                key,
                span: display_name.span,
                external_id: plain(external_id),
                members,
                providers: on,
                absent,
            });
        }
        (groups, index)
    }

    /// A member that shares no provider with its group could be a member nowhere.
    fn member_providers(
        &mut self,
        user: &User,
        member: &Spanned<String>,
        group: &str,
        on: &BTreeSet<String>,
    ) {
        if on.iter().all(|p| !user.is_on(p)) {
            let group_providers: Vec<&str> = on.iter().map(String::as_str).collect();
            self.error(
                Diagnostic::new(format!(
                    "user `{}` is a member of group `{group}`, but is on none of the group's providers ({})",
                    user.user_name,
                    group_providers.join(", ")
                ))
                .at(self.sources, member.span, "on no provider of the group")
                .also(self.sources, user.span, "the user's declaration")
                .help("add one of the group's providers to the user's `providers`, or remove the member"),
            );
        }
    }

    /// Resolves a userName written as a member or role target.
    fn user_ref(
        &mut self,
        name: &Spanned<String>,
        users: &[User],
        index: &HashMap<UserKey, usize>,
        role: impl Fn() -> String,
    ) -> Option<usize> {
        let key = key_text(&name.value);
        let Some(&i) = index.get(&*key) else {
            if !self.complete || self.broken.users.contains(&*key) || unexpanded(&name.value) {
                return None;
            }
            let suggestions = self
                .user_suggestions
                .get_or_insert_with(|| Suggestions::new(users.iter().map(|u| &*u.user_name)));
            let help = match suggestions
                .nearest(&name.value, |i| &users[i].user_name)
                .map(|i| &users[i].user_name)
            {
                Some(near) => {
                    format!("did you mean `{near}`? Otherwise declare the user under `users:`")
                }
                None => "declare the user under `users:`, or fix the userName".into(),
            };
            self.error(
                Diagnostic::new(format!(
                    "`{}` is named as {} but no user has that userName",
                    name.value,
                    role()
                ))
                .at(self.sources, name.span, "no such user")
                .help(help),
            );
            return None;
        };
        let user = &users[i];
        if user.absent {
            self.error(
                Diagnostic::new(format!(
                    "user `{}` is tombstoned (`absent: true`) but named as {}",
                    user.user_name,
                    role()
                ))
                .at(self.sources, name.span, "tombstoned user")
                .also(self.sources, user.span, "declared absent here")
                .help("remove the user from this list, or drop its `absent: true`"),
            );
            return None;
        }
        Some(i)
    }

    // ---- roles -----------------------------------------------------------------------------

    fn roles(
        &mut self,
        raw: Vec<(Spanned<String>, Spanned<RawRoleAssignment>)>,
        providers: &[Provider],
        users: &mut [User],
        user_index: &HashMap<UserKey, usize>,
        groups: &[Group],
        group_index: &HashMap<GroupKey, usize>,
    ) -> Vec<RoleAssignment> {
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mut assignments = Vec::new();
        // Every role given: (user index, provider index, index into `assignments`).
        let mut granted: Vec<(usize, usize, usize)> = Vec::new();
        for (role, assignment) in raw {
            if let Some(&first) = seen.get(&role.value) {
                self.duplicate("role", &role.value, role.span, first);
                continue;
            }
            seen.insert(role.value.clone(), role.span);
            if role.value.trim().is_empty() {
                self.error(
                    Diagnostic::new("a role value is empty")
                        .at(self.sources, role.span, "empty role")
                        .help("write the role value, e.g. `SYSTEM_USER`"),
                );
                continue;
            }
            let RawRoleAssignment {
                users: user_targets,
                groups: group_targets,
            } = assignment.value;

            // (user index, the group through which the role is given, where it was named,
            // whether the providers of both are known)
            let mut grants: Vec<(usize, Option<&Group>, Span, bool)> =
                Vec::with_capacity(user_targets.len());
            let mut user_keys = Vec::with_capacity(user_targets.len());
            for target in &user_targets {
                if let Some(i) = self.user_ref(target, users, user_index, || {
                    format!("a target of role `{}`", role.value)
                }) {
                    grants.push((i, None, target.span, !self.unsure_users.contains(&i)));
                    user_keys.push(users[i].key.clone());
                }
            }
            let mut group_keys = Vec::new();
            for target in &group_targets {
                let Some(g) = self.group_ref(target, &role.value, groups, group_index) else {
                    continue;
                };
                let group = &groups[g];
                group_keys.push(group.key.clone());
                if let Managed::Set(members) = &group.members {
                    for &member in members {
                        let sure = !self.unsure_groups.contains(&g)
                            && !self.unsure_users.contains(&member);
                        grants.push((member, Some(group), target.span, sure));
                    }
                }
            }

            let assignment = assignments.len();
            self.grant(&role, grants, providers, users, |i, p| {
                granted.push((i, p, assignment));
            });
            assignments.push(RoleAssignment {
                value: role.value,
                span: role.span,
                users: user_keys,
                groups: group_keys,
            });
        }
        set_roles(granted, &assignments, providers, users);
        assignments
    }

    /// Gives `role` to each granted user on the providers that keep roles (by calling `give`
    /// with the user's and the provider's index), reporting a value such a provider does not
    /// allow once per provider.
    fn grant(
        &mut self,
        role: &Spanned<String>,
        grants: Vec<(usize, Option<&Group>, Span, bool)>,
        providers: &[Provider],
        users: &[User],
        mut give: impl FnMut(usize, usize),
    ) {
        let mut reported: BTreeSet<&str> = BTreeSet::new();
        // Whether each provider that keeps roles allows this one, looked up once per role.
        let allowed: Vec<bool> = providers
            .iter()
            .map(|p| {
                p.roles
                    .as_ref()
                    .is_some_and(|d| d.values.contains(&role.value))
            })
            .collect();
        // Providers whose roles an error left unknown may keep this one.
        let unknown: Vec<bool> = providers
            .iter()
            .map(|p| self.unknown_roles.contains(&p.name))
            .collect();
        for (i, group, span, sure) in grants {
            let user = &users[i];
            let mut role_providers = providers
                .iter()
                .enumerate()
                .filter(|&(p, provider)| {
                    (provider.roles.is_some() || unknown[p])
                        && user.is_on(&provider.name)
                        && group.is_none_or(|g| g.is_on(&provider.name))
                })
                .peekable();
            if role_providers.peek().is_none() {
                if !sure {
                    continue;
                }
                self.error(
                    Diagnostic::new(format!(
                        "role `{}` is assigned to user `{}`, but none of the user's providers keeps roles",
                        role.value, user.user_name
                    ))
                    .at(self.sources, span, "no provider of this user keeps roles")
                    .help("give the provider `preset: tonkean` or a `roles: {schema, attribute, values}` definition"),
                );
                continue;
            }
            for (p, provider) in role_providers {
                let Some(definition) = provider.roles.as_ref() else {
                    continue;
                };
                if allowed[p] {
                    give(i, p);
                } else if !unexpanded(&role.value) && reported.insert(provider.name.as_str()) {
                    let origin = match provider.preset {
                        Some(preset) => format!("its preset `{}`", preset.profile().name),
                        None => "its `roles` definition".to_owned(),
                    };
                    let allowed: Vec<&str> = definition.values.iter().map(String::as_str).collect();
                    let help = match closest(&role.value, allowed.iter().copied()) {
                        Some(near) => format!(
                            "did you mean `{near}`? Provider `{}` allows: {}",
                            provider.name,
                            allowed.join(", ")
                        ),
                        None => format!(
                            "provider `{}` allows: {}",
                            provider.name,
                            allowed.join(", ")
                        ),
                    };
                    self.error(
                        Diagnostic::new(format!(
                            "role `{}` is not allowed by provider `{}` ({origin})",
                            role.value, provider.name
                        ))
                        .at(self.sources, role.span, "role value not allowed")
                        .help(help),
                    );
                }
            }
        }
    }

    fn group_ref(
        &mut self,
        name: &Spanned<String>,
        role: &str,
        groups: &[Group],
        index: &HashMap<GroupKey, usize>,
    ) -> Option<usize> {
        let key = key_text(&name.value);
        let Some(&g) = index.get(&*key) else {
            if !self.complete || self.broken.groups.contains(&*key) || unexpanded(&name.value) {
                return None;
            }
            let suggestions = self
                .group_suggestions
                .get_or_insert_with(|| Suggestions::new(groups.iter().map(|g| &*g.display_name)));
            let help = match suggestions
                .nearest(&name.value, |i| &groups[i].display_name)
                .map(|i| &groups[i].display_name)
            {
                Some(near) => {
                    format!("did you mean `{near}`? Otherwise declare the group under `groups:`")
                }
                None => "declare the group under `groups:`, or fix the displayName".into(),
            };
            self.error(
                Diagnostic::new(format!(
                    "`{}` is named as a target of role `{role}` but no group has that displayName",
                    name.value
                ))
                .at(self.sources, name.span, "no such group")
                .help(help),
            );
            return None;
        };
        let group = &groups[g];
        if group.absent {
            self.error(
                Diagnostic::new(format!(
                    "group `{}` is tombstoned (`absent: true`) but named as a target of role `{role}`",
                    group.display_name
                ))
                .at(self.sources, name.span, "tombstoned group")
                .also(self.sources, group.span, "declared absent here")
                .help("remove the group from this list, or drop its `absent: true`"),
            );
            return None;
        }
        if !group.members.is_managed() {
            if self.unknown_members.contains(&g) {
                return None;
            }
            self.error(
                Diagnostic::new(format!(
                    "group `{}` is a target of role `{role}` but does not declare its `members`",
                    group.display_name
                ))
                .at(self.sources, name.span, "members unknown")
                .also(self.sources, group.span, "the group")
                .help("declare the group's `members`, so scimform knows who gets the role"),
            );
            return None;
        }
        Some(g)
    }
}

/// Sets every user's effective roles from the roles `granted` ((user, provider, assignment)
/// indices). A non-tombstoned user on a provider that keeps roles has an authoritative role set
/// there, empty unless assigned (README, Roles). Users with the same roles on a provider share one
/// set.
fn set_roles(
    mut granted: Vec<(usize, usize, usize)>,
    assignments: &[RoleAssignment],
    providers: &[Provider],
    users: &mut [User],
) {
    granted.sort_unstable();
    granted.dedup();
    let names: Vec<Arc<str>> = providers
        .iter()
        .map(|p| Arc::from(p.name.as_str()))
        .collect();
    let mut shared: HashMap<Vec<usize>, Arc<BTreeSet<String>>> = HashMap::new();
    // The providers that keep roles, in order: often one among many.
    let keeping: Vec<(usize, &Provider)> = providers
        .iter()
        .enumerate()
        .filter(|(_, p)| p.roles.is_some())
        .collect();
    // The most entries a user's `roles` can have: one Vec allocation each, never regrown.
    let role_providers = keeping.len();
    let mut values: Vec<usize> = Vec::new();
    let mut rest = granted.as_slice();
    for (i, user) in users.iter_mut().enumerate().filter(|(_, u)| !u.absent) {
        for &(p, provider) in &keeping {
            if !user.is_on(&provider.name) {
                continue;
            }
            values.clear();
            while let [(user_index, provider_index, assignment), tail @ ..] = rest {
                if (*user_index, *provider_index) > (i, p) {
                    break;
                }
                if (*user_index, *provider_index) == (i, p) {
                    values.push(*assignment);
                }
                rest = tail;
            }
            let roles = if let Some(roles) = shared.get(&values) {
                Arc::clone(roles)
            } else {
                let roles: Arc<BTreeSet<String>> = Arc::new(
                    values
                        .iter()
                        .map(|&a| assignments[a].value.clone())
                        .collect(),
                );
                shared.insert(values.clone(), Arc::clone(&roles));
                roles
            };
            user.roles.reserve_exact(role_providers - user.roles.len());
            user.roles.push((Arc::clone(&names[p]), roles));
        }
    }
}

/// A multi-valued attribute's value while its spans are still needed.
struct SpannedMultiValue {
    value: Spanned<String>,
    kind: Option<String>,
    primary: Option<Spanned<bool>>,
}

fn finish_multi_value(v: SpannedMultiValue) -> MultiValue {
    MultiValue {
        value: v.value.value,
        kind: v.kind,
        primary: v.primary.map(|p| p.value),
    }
}

fn plain<T>(managed: Managed<Spanned<T>>) -> Managed<T> {
    managed.map(|v| v.value)
}

fn plain_boxed<T>(managed: Managed<Box<Spanned<T>>>) -> Managed<T> {
    managed.map(|v| v.value)
}

fn managed_list<T>(managed: Managed<Spanned<Vec<T>>>) -> Managed<Vec<T>> {
    managed.map(|v| v.value)
}

fn name_of(raw: RawName) -> Name {
    Name {
        formatted: plain_boxed(raw.formatted),
        family_name: plain(raw.family_name),
        given_name: plain(raw.given_name),
        middle_name: plain_boxed(raw.middle_name),
        honorific_prefix: plain_boxed(raw.honorific_prefix),
        honorific_suffix: plain_boxed(raw.honorific_suffix),
    }
}

/// Requests per second from a rate written as `N/s` or `N/min`; `None` when it is not one,
/// or not above zero.
fn parse_rate(text: &str) -> Option<f64> {
    let (count, unit) = text.split_once('/')?;
    let count: f64 = count.trim().parse().ok()?;
    let seconds = match unit.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        _ => return None,
    };
    (count.is_finite() && count > 0.0).then_some(count / seconds)
}

/// Whether `text` holds a `${...}` reference, which is reported on its own (see
/// `unexpanded`): checks of a value's form pass over it rather than report it again.
fn unexpanded(text: &str) -> bool {
    references(text).next().is_some()
}

/// A plausible email address: one `@`, something on each side, a dot in the domain, no
/// spaces. Deliberately loose: the server is the judge of deliverability.
fn is_email(value: &str) -> bool {
    // `@` and `.` are ASCII: in UTF-8 no other character contains their bytes, so the
    // search is by bytes.
    let bytes = value.as_bytes();
    let Some(at) = bytes.iter().position(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = (&bytes[..at], &bytes[at + 1..]);
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains(&b'@')
        && domain.contains(&b'.')
        && domain.first() != Some(&b'.')
        && domain.last() != Some(&b'.')
        && !has_whitespace(value)
}

/// Whether `text` holds a character that is `char::is_whitespace`, by bytes when it is ASCII
/// (the common case), where those are tab, line feed, vertical tab, form feed, carriage return
/// and space.
fn has_whitespace(text: &str) -> bool {
    if text.is_ascii() {
        text.bytes()
            .any(|b| matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' '))
    } else {
        text.contains(char::is_whitespace)
    }
}

fn is_urn(value: &str) -> bool {
    scim::attribute::is_schema_urn(value) && !value.contains(char::is_whitespace)
}

/// RFC 7643 §2.1: `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA`.
fn is_attribute_name(value: &str) -> bool {
    let mut chars = value.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Provider names are typed on the command line (`--provider NAME`) and shown in plans.
fn is_provider_name(value: &str) -> bool {
    let mut chars = value.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The environment variable a help message suggests for a provider's token.
fn token_var(provider: &str) -> String {
    let name: String = provider
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}_SCIM_TOKEN")
}

#[cfg(test)]
mod tests {
    use super::{has_whitespace, is_attribute_name, is_email, is_urn, token_var};

    #[test]
    fn emails() {
        assert!(is_email("ada@example.com"));
        assert!(is_email("ada+ops@mail.example.co.uk"));
        assert!(!is_email("ada.example.com"));
        assert!(!is_email("ada@"));
        assert!(!is_email("@example.com"));
        assert!(!is_email("ada@example"));
        assert!(!is_email("ada lovelace@example.com"));
        assert!(!is_email("a@b@example.com"));
        assert!(!is_email("ada@example.com\u{a0}"));
        assert!(!is_email("ada@.example.com"));
        assert!(!is_email("ada@example.com."));
        assert!(is_email("adà@exämple.com"));
    }

    #[test]
    fn whitespace_by_bytes_is_whitespace_by_chars() {
        for c in (0..=0x7f_u8)
            .map(char::from)
            .chain(['\u{85}', '\u{a0}', '\u{2003}', 'é'])
        {
            let text = format!("a{c}b");
            assert_eq!(has_whitespace(&text), c.is_whitespace(), "{c:?}");
        }
    }

    #[test]
    fn names() {
        assert!(is_urn("urn:scim:tonkean"));
        assert!(!is_urn("tonkean"));
        assert!(is_attribute_name("employeeNumber"));
        assert!(!is_attribute_name("2fa"));
        assert_eq!(token_var("tonkean-prod"), "TONKEAN_PROD_SCIM_TOKEN");
    }
}
