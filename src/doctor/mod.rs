//! `scimform doctor`: the "test API credentials" step of setting up a provider.
//!
//! Each check is one request a plan would depend on, in the order a plan needs them: the base
//! URL answers `/ServiceProviderConfig`, the token is accepted on `/Users`, `/Schemas` and
//! `/ResourceTypes` announce what the config expects (the provider's role extension above
//! all), `/Groups` shows group members (or the plan reads them another way), and the
//! capabilities say how the plan will read and write. A failure says what went
//! wrong in the server's or the network's own terms and what to change; the checks that
//! depend on it are not run, so the first failure is the one to fix.

use std::fmt::Write as _;
use std::time::Instant;

use reqwest::Method;
use scim::ResourceKind;
use scim::attribute::get_ci;
use scim::profile::Profile;
use scim::urn;
use serde_json::Value;

use crate::client::{Capabilities, ClientError, ReadLimits, RetryPolicy, ScimClient, bytes};
use crate::config::{Provider, RequestLimits, RoleDefinition};
use crate::connect::{self, Target};
use crate::state::{HiddenMembers, a_member_is_found, member_filter};

mod profile;

/// How many groups doctor reads by id to see whether the server shows their members.
const GROUPS_READ_BY_ID: usize = 8;

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    /// Not proven either way; the plan may still work.
    Warn,
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub hint: Option<String>,
}

/// Everything doctor found about one provider.
#[derive(Debug, Clone)]
pub struct Report {
    pub provider: String,
    /// The server checked: the provider's URL resolved, without a user, password or query.
    pub url: String,
    pub checks: Vec<Check>,
    /// How the plan will read and write, when the capabilities could be read.
    pub capabilities: Option<Capabilities>,
    /// The provider's `rate_limit` and `retry`, as the config sets them.
    pub limits: RequestLimits,
}

impl Report {
    /// Whether nothing failed (warnings allowed).
    #[must_use]
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }

    fn push(&mut self, name: &'static str, status: Status, detail: impl Into<String>) {
        self.checks.push(Check {
            name,
            status,
            detail: detail.into(),
            hint: None,
        });
    }

    fn fail(&mut self, name: &'static str, detail: impl Into<String>, hint: impl Into<String>) {
        self.checks.push(Check {
            name,
            status: Status::Fail,
            detail: detail.into(),
            hint: Some(hint.into()),
        });
    }

    fn warn(&mut self, name: &'static str, detail: impl Into<String>, hint: impl Into<String>) {
        self.checks.push(Check {
            name,
            status: Status::Warn,
            detail: detail.into(),
            hint: Some(hint.into()),
        });
    }

    /// The report as a screen of text; green and red only when `color`.
    #[must_use]
    pub fn render(&self, color: bool) -> String {
        let paint = |code: &str, text: &str| {
            if color {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text.to_owned()
            }
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "scimform doctor: provider `{}` at {}\n",
            self.provider, self.url
        );
        for check in &self.checks {
            let mark = match check.status {
                Status::Pass => paint("32", "✓"),
                Status::Warn => paint("33", "!"),
                Status::Fail => paint("31", "✗"),
            };
            let _ = writeln!(out, "  {mark} {:<16} {}", check.name, check.detail);
            if let Some(hint) = &check.hint {
                let _ = writeln!(out, "    {:<16} hint: {hint}", "");
            }
        }
        if let Some(caps) = &self.capabilities
            && self.passed()
        {
            let _ = writeln!(out, "\n  How plan and apply will work here:");
            for (what, text) in plan_notes(caps)
                .into_iter()
                .chain(request_notes(self.limits))
            {
                let _ = writeln!(out, "    {what:<7} {text}");
            }
        }
        out.push('\n');
        if self.passed() {
            let _ = writeln!(
                out,
                "{}",
                paint(
                    "32",
                    &format!(
                        "All checks passed: scimform can plan and apply against `{}`.",
                        self.provider
                    )
                )
            );
        } else {
            let failed = self
                .checks
                .iter()
                .filter(|c| c.status == Status::Fail)
                .count();
            let _ = writeln!(
                out,
                "{}",
                paint(
                    "31",
                    &format!(
                        "{failed} check{} failed: fix {} and run `scimform doctor` again.",
                        if failed == 1 { "" } else { "s" },
                        if failed == 1 { "it" } else { "them" }
                    )
                )
            );
        }
        out
    }
}

/// What the capabilities mean for plan and apply (README, Plans).
fn plan_notes(caps: &Capabilities) -> Vec<(&'static str, String)> {
    let page = caps.max_results.map_or_else(
        || "pages at the server's default size (it announces no filter.maxResults)".to_owned(),
        |n| format!("pages of {n} users and groups (filter.maxResults)"),
    );
    let lookups = if caps.filter {
        "; filter lookups when few objects are declared"
    } else {
        "; no filter support, so every page is read"
    };
    let writes = if caps.patch {
        "PATCH with only the changed attributes"
    } else {
        "PUT of the whole resource (the server announces no PATCH)"
    };
    let bulk = caps.bulk.map_or_else(
        || "no /Bulk: one request per write".to_owned(),
        |b| {
            format!(
                "/Bulk available (up to {} operations, {} per request)",
                b.max_operations,
                bytes(b.max_payload_size)
            )
        },
    );
    let etag = if caps.etag {
        "ETags: a saved plan is applied with If-Match"
    } else {
        "no ETags: a saved plan is checked by re-reading what it touches"
    };
    let mut notes = vec![("reads", format!("{page}{lookups}"))];
    if caps.cursor {
        notes.push((
            "paging",
            "by cursor (RFC 9865), one page after another: the server takes no startIndex, \
             so each page is asked for with the nextCursor of the one before"
                .to_owned(),
        ));
    }
    notes.extend([
        ("writes", writes.to_owned()),
        ("bulk", bulk),
        ("saved", etag.to_owned()),
    ]);
    notes
}

/// How every request to the provider is paced and retried, and how much is read of it
/// (`rate_limit`, `retry`, `limits`).
fn request_notes(limits: RequestLimits) -> [(&'static str, String); 3] {
    let pacing = limits.rate_limit.map_or_else(
        || "not paced until the server answers 429; then to the rate it lets through".to_owned(),
        |rate| format!("at most {rate}/s (rate_limit); slower if the server answers 429"),
    );
    let default = RetryPolicy::default();
    let attempts = limits
        .attempts
        .map_or(default.max_retries + 1, |a| a as usize);
    let deadline = limits.deadline.unwrap_or(default.max_elapsed);
    let retries = format!(
        "{attempts} attempts per request, none started after {}; 429 and 503 after \
         Retry-After, other 5xx and resets with backoff; 501 and other 4xx never",
        humantime::format_duration(deadline)
    );
    let read = ReadLimits::default();
    let reading = format!(
        "responses up to {}; a listing in at most {} requests and {} (limits)",
        bytes(limits.response_bytes.unwrap_or(read.response_bytes)),
        limits.listing_requests.unwrap_or(read.listing_requests),
        humantime::format_duration(limits.listing_time.unwrap_or(read.listing_time))
    );
    [
        ("pacing", pacing),
        ("retries", retries),
        ("limits", reading),
    ]
}

/// Runs every check against `provider`'s server.
pub async fn diagnose(provider: &Provider, target: &Target, allow_insecure_http: bool) -> Report {
    let mut report = Report {
        provider: provider.name().to_owned(),
        url: target.server_url(),
        checks: Vec::new(),
        capabilities: None,
        limits: provider.request_limits(),
    };
    let session = match connect::open(target, allow_insecure_http).await {
        Ok(session) => session,
        Err(e) => {
            report.fail(
                "server",
                e.to_string(),
                "check `url` in the provider's config",
            );
            return report;
        }
    };
    let doctor = Doctor {
        client: &session.client,
        target,
        allow_insecure_http,
    };
    doctor.run(provider, &mut report).await;
    session.close().await;
    report
}

struct Doctor<'a> {
    client: &'a ScimClient,
    target: &'a Target,
    allow_insecure_http: bool,
}

impl Doctor<'_> {
    async fn run(&self, provider: &Provider, report: &mut Report) {
        let Some(capabilities) = self.service_provider_config(report).await else {
            return;
        };
        let configured = provider.profile();
        let mut seen = profile::Observed {
            url: report.url.clone(),
            bulk: Some(capabilities.bulk.is_some()),
            max_results: capabilities.max_results,
            ..profile::Observed::default()
        };
        // Plan and apply work within what the configured profile documents.
        let capabilities = capabilities.within(configured);
        let page = capabilities.max_results;
        let cursor = capabilities.cursor;
        report.capabilities = Some(capabilities);
        let Some(users) = self.token(report).await else {
            return;
        };
        let schemas = self.schemas(report).await;
        seen.tonkean_extension = schemas.as_ref().map(|schemas| {
            (schemas.iter()).any(|s| id(s).is_some_and(|id| id.eq_ignore_ascii_case(urn::TONKEAN)))
        });
        let resource_types = self.resource_types(report).await;
        if let Some(definition) = provider.role_definition() {
            role_extension(
                report,
                definition,
                schemas.as_deref(),
                resource_types.as_deref(),
            );
        }
        let documented =
            configured.and_then(|profile| Some((profile, profile.members.hidden_filter()?)));
        // The member filter is probed the way plan will list: by cursor where the server
        // takes no `startIndex`.
        let paged = self.client.clone().with_cursor_paging(cursor);
        let doctor = Doctor {
            client: &paged,
            ..*self
        };
        seen.members_hidden = doctor.members(report, page, users, documented).await;
        seen.eq_only = self.eq_only().await;
        which_profile(report, configured, &seen);
    }

    /// Whether the server refuses a filter other than `eq` (a `co` on userName) with 400.
    async fn eq_only(&self) -> Option<bool> {
        let query = [
            ("filter", "userName co \"scimform-probe\"".to_owned()),
            ("count", "1".to_owned()),
        ];
        match self.get("/Users", &query).await {
            Ok(_) => Some(false),
            Err(ClientError::Status { status: 400, .. }) => Some(true),
            Err(_) => None,
        }
    }

    /// `GET /Groups`, then groups by id: whether the server shows group members, and when it
    /// shows none, how plan will read them (README, Plans). Returns whether it hides them, when
    /// that could be seen: hidden only when the profile documents it or a member filter finds a
    /// group that shows no members; a few groups read empty prove nothing.
    /// `documented` is the configured profile and its member filter, when the profile says the
    /// service hides members: plan uses that filter without probing, and so does doctor.
    async fn members(
        &self,
        report: &mut Report,
        page: Option<usize>,
        users: Option<u64>,
        documented: Option<(&Profile, &'static str)>,
    ) -> Option<bool> {
        const NAME: &str = "group members";
        let query = [("count", GROUPS_READ_BY_ID.to_string())];
        let groups = match self.get("/Groups", &query).await {
            Ok(body) => resources(&body),
            Err(e) => {
                report.warn(
                    NAME,
                    format!("GET /Groups failed: {e}"),
                    "plan lists /Groups to manage groups; check the token's permissions",
                );
                return None;
            }
        };
        if groups.is_empty() {
            report.push(NAME, Status::Pass, "the server holds no group yet");
            return None;
        }
        if groups.iter().any(shows_members) {
            report.push(NAME, Status::Pass, "GET /Groups lists members");
            return Some(false);
        }
        for group in &groups {
            let Some(id) = id(group) else { continue };
            let read = self.client.get(ResourceKind::Group, id).await;
            if let Ok(Some(response)) = read
                && response.body.as_ref().is_some_and(shows_members)
            {
                report.push(
                    NAME,
                    Status::Pass,
                    "GET /Groups/{id} shows members (GET /Groups leaves them out): plan reads \
                     the groups it manages one by one",
                );
                return Some(false);
            }
        }
        if let Some((profile, attribute)) = documented {
            report.push(
                NAME,
                Status::Pass,
                format!(
                    "no group read shows a member, as {} documents: {}",
                    profile.title,
                    per_user_reads(attribute, users, false)
                ),
            );
            return Some(true);
        }
        let seen = format!(
            "{} (or every group read is empty)",
            HiddenMembers::BEHAVIOUR
        );
        match member_filter(self.client, page).await {
            Ok(Ok(attribute)) => {
                // No group read shows a member: they are hidden only if a member filter finds
                // a group for one of the first users; else every group read may be empty.
                let hidden = self.a_member_is_found(page, attribute).await;
                let what = if hidden {
                    HiddenMembers::BEHAVIOUR.to_owned()
                } else {
                    seen
                };
                report.warn(NAME, what, per_user_reads(attribute, users, true));
                return hidden.then_some(true);
            }
            Ok(Err(reason)) => report.warn(
                NAME,
                reason,
                "plan refuses to manage group members here, and import refuses to run: \
                 members it cannot see are not members the groups do not have",
            ),
            Err(e) => report.warn(
                NAME,
                format!("{seen}; reading them with a member filter failed: {e}"),
                "plan refuses to manage group members it cannot see",
            ),
        }
        // Whether the groups are empty or hide their members cannot be told.
        None
    }

    /// Whether the member filter finds a group for one of the first users the server lists.
    /// A failed read proves nothing.
    async fn a_member_is_found(&self, page: Option<usize>, attribute: &str) -> bool {
        let query = [("count", GROUPS_READ_BY_ID.to_string())];
        let Ok(body) = self.get("/Users", &query).await else {
            return false;
        };
        let listed = resources(&body);
        let users: Vec<&str> = listed.iter().filter_map(id).collect();
        a_member_is_found(self.client, page, attribute, &users)
            .await
            .unwrap_or(false)
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ClientError> {
        let response = self
            .client
            .send(Method::GET, path, query, None, None)
            .await?;
        Ok(response.body.unwrap_or(Value::Null))
    }

    /// `GET /ServiceProviderConfig`: the URL answers, and answers like a SCIM server.
    async fn service_provider_config(&self, report: &mut Report) -> Option<Capabilities> {
        let started = Instant::now();
        match self.get("/ServiceProviderConfig", &[]).await {
            Ok(body) if body.is_object() => {
                let ms = started.elapsed().as_millis();
                let capabilities = Capabilities::from_json(Some(&body));
                report.push(
                    "server",
                    Status::Pass,
                    format!(
                        "GET /ServiceProviderConfig answered in {ms} ms: {}",
                        announced(&capabilities, &body)
                    ),
                );
                Some(capabilities)
            }
            Ok(_) => {
                report.fail(
                    "server",
                    "GET /ServiceProviderConfig answered, but not with a SCIM ServiceProviderConfig",
                    "`url` must be the SCIM base URL, the one that ends in /scim/v2 for Tonkean",
                );
                None
            }
            Err(ClientError::Status {
                status: code @ (401 | 403),
                ..
            }) => {
                report.push(
                    "server",
                    Status::Pass,
                    format!("answers (GET /ServiceProviderConfig asks for authentication: {code})"),
                );
                self.token(report).await;
                None
            }
            Err(ClientError::Status { status: 404, .. }) => {
                let hint = self.suggest_base_url().await.map_or_else(
                    || {
                        "`url` must be the SCIM base URL: for Tonkean https://HOST/scim/v2"
                            .to_owned()
                    },
                    |url| format!("a SCIM server answers at {url}: set `url` to it"),
                );
                report.fail(
                    "server",
                    format!(
                        "GET {}/ServiceProviderConfig answered 404: there is no SCIM service at this path",
                        self.client.base_url()
                    ),
                    hint,
                );
                None
            }
            Err(ClientError::Transport { source, .. }) => {
                let (detail, hint) = transport(self.client.base_url(), &source);
                report.fail("server", detail, hint);
                None
            }
            Err(e @ ClientError::Decode { .. }) => {
                report.fail(
                    "server",
                    e.to_string(),
                    "`url` must be the SCIM base URL; this one serves something else",
                );
                None
            }
            Err(e) => {
                report.fail(
                    "server",
                    e.to_string(),
                    "the server is reachable but failing; try again, or ask its operator",
                );
                None
            }
        }
    }

    /// When the base URL does not end in `/scim/v2`, whether the server answers there.
    async fn suggest_base_url(&self) -> Option<String> {
        let base = self.client.base_url();
        if base.ends_with("/scim/v2") {
            return None;
        }
        let url = reqwest::Url::parse(base).ok()?;
        let candidate = format!("{}/scim/v2", url.origin().ascii_serialization());
        if candidate == base {
            return None;
        }
        let client = self
            .target
            .client_with(
                &candidate,
                self.target.auth_scheme(),
                self.allow_insecure_http,
            )?
            .ok()?;
        let response = client
            .send(Method::GET, "/ServiceProviderConfig", &[], None, None)
            .await;
        match response {
            Ok(_)
            | Err(ClientError::Status {
                status: 401 | 403, ..
            }) => Some(candidate),
            Err(_) => None,
        }
    }

    /// `GET /Users?count=1` with the token: accepted, or which scheme would be. When accepted,
    /// how many users the server says it holds.
    async fn token(&self, report: &mut Report) -> Option<Option<u64>> {
        let scheme = self.target.auth_scheme();
        let query = [("count", "1".to_owned())];
        match self.get("/Users", &query).await {
            Ok(body) => {
                let total = get_ci(&body, "totalResults").and_then(Value::as_u64);
                let users = total.map_or_else(String::new, |n| {
                    format!(
                        "; the server holds {n} user{}",
                        if n == 1 { "" } else { "s" }
                    )
                });
                let how = if self.target.is_embedded() {
                    "the embedded server's own token".to_owned()
                } else {
                    format!("`Authorization: {scheme} …`")
                };
                report.push(
                    "token",
                    Status::Pass,
                    format!("accepted with {how} (GET /Users{users})"),
                );
                Some(total)
            }
            Err(ClientError::Status {
                status: code @ (401 | 403),
                ..
            }) => {
                let other = if scheme.eq_ignore_ascii_case("token") {
                    "Bearer"
                } else {
                    "token"
                };
                let other_works = match self.target.client_with(
                    self.client.base_url(),
                    other,
                    self.allow_insecure_http,
                ) {
                    Some(Ok(client)) => client
                        .send(Method::GET, "/Users", &query, None, None)
                        .await
                        .is_ok(),
                    _ => false,
                };
                if other_works {
                    report.fail(
                        "token",
                        format!(
                            "rejected with `Authorization: {scheme} …` ({code}), but accepted with `Authorization: {other} …`"
                        ),
                        format!("set `auth_scheme: {other}` on the provider"),
                    );
                } else {
                    report.fail(
                        "token",
                        format!(
                            "rejected ({code}) with `Authorization: {scheme} …`, and with `{other}` too"
                        ),
                        "check the token the provider's `token`/`token_file` names: it may be mistyped, expired, revoked or for another tenant",
                    );
                }
                None
            }
            Err(ClientError::Transport { source, .. }) => {
                let (detail, hint) = transport(self.client.base_url(), &source);
                report.fail("token", detail, hint);
                None
            }
            Err(e) => {
                report.fail(
                    "token",
                    e.to_string(),
                    "GET /Users must answer for plan to read the directory",
                );
                None
            }
        }
    }

    /// `GET /Schemas`: the schemas the server announces, as (id, resource).
    async fn schemas(&self, report: &mut Report) -> Option<Vec<Value>> {
        match self.get("/Schemas", &[]).await {
            Ok(body) => {
                let schemas = resources(&body);
                let ids: Vec<String> = schemas.iter().filter_map(|s| id(s)).map(short).collect();
                report.push(
                    "schemas",
                    Status::Pass,
                    format!("GET /Schemas announces {}", ids.join(", ")),
                );
                Some(schemas)
            }
            Err(e) => {
                report.warn(
                    "schemas",
                    format!("GET /Schemas failed: {e}"),
                    "plan does not need /Schemas, but the role extension cannot be confirmed there",
                );
                None
            }
        }
    }

    /// `GET /ResourceTypes`: User and Group must be there.
    async fn resource_types(&self, report: &mut Report) -> Option<Vec<Value>> {
        match self.get("/ResourceTypes", &[]).await {
            Ok(body) => {
                let types = resources(&body);
                let described: Vec<String> = types
                    .iter()
                    .map(|t| {
                        let name = get_ci(t, "name").and_then(Value::as_str).unwrap_or("?");
                        let endpoint = get_ci(t, "endpoint").and_then(Value::as_str).unwrap_or("?");
                        let extensions: Vec<String> =
                            extensions_of(t).into_iter().map(short).collect();
                        if extensions.is_empty() {
                            format!("{name} ({endpoint})")
                        } else {
                            format!("{name} ({endpoint}, +{})", extensions.join(", +"))
                        }
                    })
                    .collect();
                let has = |name: &str| {
                    types.iter().any(|t| {
                        get_ci(t, "name")
                            .and_then(Value::as_str)
                            .is_some_and(|n| n.eq_ignore_ascii_case(name))
                    })
                };
                if has("User") && has("Group") {
                    report.push(
                        "resource types",
                        Status::Pass,
                        format!("GET /ResourceTypes announces {}", described.join(", ")),
                    );
                } else {
                    report.fail(
                        "resource types",
                        format!(
                            "GET /ResourceTypes announces {}, not both User and Group",
                            if described.is_empty() {
                                "nothing".to_owned()
                            } else {
                                described.join(", ")
                            }
                        ),
                        "scimform manages /Users and /Groups; this server does not offer both",
                    );
                }
                Some(types)
            }
            Err(e) => {
                report.warn(
                    "resource types",
                    format!("GET /ResourceTypes failed: {e}"),
                    "plan does not need /ResourceTypes; /Users and /Groups are used directly",
                );
                None
            }
        }
    }
}

/// The provider's role attribute: announced in /Schemas (or at least as an extension of the
/// User resource type).
fn role_extension(
    report: &mut Report,
    definition: &RoleDefinition,
    schemas: Option<&[Value]>,
    resource_types: Option<&[Value]>,
) {
    let path = definition.path();
    let user_extension = resource_types.is_some_and(|types| {
        types.iter().any(|t| {
            get_ci(t, "name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case("User"))
                && extensions_of(t)
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(&definition.schema))
        })
    });
    let Some(schemas) = schemas else {
        if user_extension {
            report.push(
                "role extension",
                Status::Pass,
                format!("{} extends User (per /ResourceTypes)", definition.schema),
            );
        } else {
            report.warn(
                "role extension",
                format!("cannot confirm that the server keeps {path}"),
                "roles are written there; check with the server's operator that the extension is enabled",
            );
        }
        return;
    };
    let schema = schemas
        .iter()
        .find(|s| id(s).is_some_and(|i| i.eq_ignore_ascii_case(&definition.schema)));
    let Some(schema) = schema else {
        report.fail(
            "role extension",
            format!(
                "the server does not announce the schema {} that holds roles ({path})",
                definition.schema
            ),
            "role writes would be rejected or dropped: enable the extension on the server, or fix the provider's `preset`/`roles`",
        );
        return;
    };
    let attribute = get_ci(schema, "attributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|a| {
            get_ci(a, "name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(&definition.attribute))
        });
    let Some(attribute) = attribute else {
        report.fail(
            "role extension",
            format!(
                "schema {} has no attribute `{}`",
                definition.schema, definition.attribute
            ),
            "fix `roles.attribute` on the provider to the attribute the server keeps roles in",
        );
        return;
    };
    let canonical: Vec<&str> = get_ci(attribute, "canonicalValues")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let unknown: Vec<&str> = definition
        .values
        .iter()
        .map(String::as_str)
        .filter(|v| !canonical.is_empty() && !canonical.contains(v))
        .collect();
    if unknown.is_empty() {
        let values: Vec<&str> = definition.values.iter().map(String::as_str).collect();
        report.push(
            "role extension",
            Status::Pass,
            format!("{path} is announced; roles {}", values.join(", ")),
        );
    } else {
        report.warn(
            "role extension",
            format!(
                "{path} is announced, but its canonical values ({}) do not include {}",
                canonical.join(", "),
                unknown.join(", ")
            ),
            "the server may refuse those roles; check the provider's role values",
        );
    }
}

/// What a `ServiceProviderConfig` announces, in a line: the features it supports and its
/// authentication schemes.
fn announced(caps: &Capabilities, body: &Value) -> String {
    let features: Vec<&str> = [
        ("patch", caps.patch),
        ("bulk", caps.bulk.is_some()),
        ("filter", caps.filter),
        ("etag", caps.etag),
        ("sort", caps.sort),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let schemes: Vec<&str> = get_ci(body, "authenticationSchemes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| get_ci(s, "type").and_then(Value::as_str))
        .collect();
    let features = if features.is_empty() {
        "no optional feature".to_owned()
    } else {
        features.join(", ")
    };
    if schemes.is_empty() {
        features
    } else {
        format!("{features}; auth {}", schemes.join(", "))
    }
}

/// How plan and import read membership where no group read shows a member: one
/// `GET /Groups?filter=<attribute> eq "<user id>"` per user of the `users` the server holds.
/// With `probe`, plan first tries the filter ([`member_filter`]), one request more.
fn per_user_reads(attribute: &str, users: Option<u64>, probe: bool) -> String {
    let cost = users.map_or_else(
        || "one request per user".to_owned(),
        |n| {
            let requests = n + u64::from(probe);
            format!("{requests} requests for the {n} users it holds")
        },
    );
    format!(
        "plan and import read membership with one `GET /Groups?filter={attribute} eq \
         \"<user id>\"` per user ({cost}), and say so in the plan"
    )
}

/// `Resources` of a ListResponse, or the array itself (some servers answer with a bare list).
fn resources(body: &Value) -> Vec<Value> {
    match body {
        Value::Array(items) => items.clone(),
        _ => get_ci(body, "Resources")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    }
}

/// Whether a group shows at least one member: an empty list is what a server that hides
/// members shows too.
fn shows_members(group: &Value) -> bool {
    get_ci(group, "members")
        .and_then(Value::as_array)
        .is_some_and(|members| !members.is_empty())
}

fn id(resource: &Value) -> Option<&str> {
    get_ci(resource, "id").and_then(Value::as_str)
}

fn extensions_of(resource_type: &Value) -> Vec<&str> {
    get_ci(resource_type, "schemaExtensions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| get_ci(e, "schema").and_then(Value::as_str))
        .collect()
}

/// A schema URN as people say it: the core schemas by their last word, the enterprise
/// extension as `EnterpriseUser`.
fn short(id: &str) -> String {
    if let Some(rest) = (id.strip_prefix(urn::CORE_PREFIX)).and_then(|r| r.strip_prefix("2.0:")) {
        rest.to_owned()
    } else if id.eq_ignore_ascii_case(urn::ENTERPRISE_USER) {
        "EnterpriseUser".to_owned()
    } else {
        id.to_owned()
    }
}

/// What a transport failure means, and what to do about it.
fn transport(base_url: &str, error: &reqwest::Error) -> (String, String) {
    let url = reqwest::Url::parse(base_url).ok();
    let host = url
        .as_ref()
        .and_then(|u| u.host_str())
        .unwrap_or("the server")
        .to_owned();
    let port = url
        .as_ref()
        .and_then(reqwest::Url::port_or_known_default)
        .map_or_else(String::new, |p| format!(":{p}"));
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        chain.push(e.to_string());
        source = e.source();
    }
    let text = chain.join(": ").to_lowercase();
    let last = chain.last().cloned().unwrap_or_default();
    // rustls speaks of certificates, alerts and, when the port does not speak TLS at all, of
    // a corrupt message.
    let tls = [
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "alert",
        "unknownissuer",
    ];
    if tls.iter().any(|word| text.contains(word)) {
        (
            format!("the TLS handshake with {host}{port} failed: {last}"),
            "the certificate is not trusted or not for this host, or the port does not speak https; check the host and scheme of `url`".to_owned(),
        )
    } else if text.contains("dns") || text.contains("lookup") || text.contains("resolve") {
        (
            format!("cannot resolve the host {host}: {last}"),
            "check the host name in `url` (and any ${VAR} it is built from)".to_owned(),
        )
    } else if text.contains("refused") {
        (
            format!("nothing listens at {host}{port} (connection refused)"),
            "check the host and port in `url`, and that the server is running".to_owned(),
        )
    } else if error.is_timeout() {
        (
            format!("{host}{port} did not answer in time"),
            "check network access to the server (proxy, firewall, VPN)".to_owned(),
        )
    } else {
        (
            format!("cannot reach {host}{port}: {last}"),
            "check `url` and network access to the server".to_owned(),
        )
    }
}

/// Says which profile the server behaves like, and warns when the config names another
/// (README, Provider profiles).
fn which_profile(report: &mut Report, configured: Option<&Profile>, seen: &profile::Observed) {
    const NAME: &str = "profile";
    let matching = profile::matching(seen);
    let names = |profiles: &[&Profile]| {
        (profiles.iter())
            .map(|p| format!("`{}` ({})", p.name, p.title))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let how = if profile::by_url(&seen.url).is_some() {
        "by its URL"
    } else {
        "by its behaviour"
    };
    match configured {
        Some(configured) => {
            let differences = profile::differences(configured, seen);
            if differences.is_empty() {
                report.push(
                    NAME,
                    Status::Pass,
                    format!(
                        "the server behaves like `{}` ({}), as the config says",
                        configured.name, configured.title
                    ),
                );
            } else {
                let like = if matching.is_empty() {
                    "no known profile".to_owned()
                } else {
                    format!("{} {how}", names(&matching))
                };
                report.warn(
                    NAME,
                    format!(
                        "the config names `{}`, but {}; the server behaves like {like}",
                        configured.name,
                        differences.join(", ")
                    ),
                    format!(
                        "check `preset:` against the server; plans follow `{}` ({})",
                        configured.name,
                        configured.page()
                    ),
                );
            }
        }
        None if matching.is_empty() => report.push(
            NAME,
            Status::Pass,
            "the server behaves like no known profile: plans follow what it announces",
        ),
        None => report.push(
            NAME,
            Status::Pass,
            format!(
                "the server behaves like {} {how}; the config names no `preset`, so plans \
                 follow what it announces",
                names(&matching)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_shortened_for_reading() {
        assert_eq!(short("urn:ietf:params:scim:schemas:core:2.0:User"), "User");
        assert_eq!(
            short("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
            "EnterpriseUser"
        );
        assert_eq!(short("urn:scim:tonkean"), "urn:scim:tonkean");
    }

    #[test]
    fn a_report_without_colour_reads_plainly() {
        let mut report = Report {
            provider: "tonkean".into(),
            url: "https://t.example.com/scim/v2".into(),
            checks: Vec::new(),
            capabilities: None,
            limits: RequestLimits::default(),
        };
        report.fail("token", "rejected (401)", "check the token");
        let text = report.render(false);
        assert!(!text.contains('\x1b'));
        assert!(text.contains("✗ token"), "{text}");
        assert!(text.contains("hint: check the token"), "{text}");
        assert!(text.contains("1 check failed"), "{text}");
        assert!(report.render(true).contains("\x1b[31m"));
    }

    #[test]
    fn the_provider_s_pacing_and_retries_are_said() {
        let [(_, pacing), (_, retries), (_, reading)] = request_notes(RequestLimits::default());
        assert_eq!(
            reading,
            "responses up to 64 MiB; a listing in at most 10000 requests and 30m (limits)"
        );
        assert!(pacing.starts_with("not paced until"), "{pacing}");
        assert!(
            retries.starts_with("9 attempts per request, none started after 2m;"),
            "{retries}"
        );
        let [(_, pacing), (_, retries), (_, reading)] = request_notes(RequestLimits {
            attempts: Some(3),
            deadline: Some(std::time::Duration::from_secs(20)),
            rate_limit: Some(5.0),
            response_bytes: Some(2 * 1024 * 1024),
            listing_requests: Some(50),
            listing_time: Some(std::time::Duration::from_secs(60)),
        });
        assert!(
            reading.starts_with("responses up to 2 MiB; a listing in at most 50 requests and 1m"),
            "{reading}"
        );
        assert!(pacing.starts_with("at most 5/s (rate_limit)"), "{pacing}");
        assert!(
            retries.starts_with("3 attempts per request, none started after 20s;"),
            "{retries}"
        );
    }
}
