//! Provider profiles: what the SCIM services people provision document about themselves, as
//! data (README, Provider profiles; docs/providers/).
//!
//! A profile is read by both sides. The engine validates a config against it and plans only
//! requests the service accepts; the embedded server, with `serve --emulate NAME`, behaves the
//! way it describes. Each fact cites the service's public documentation in the profile's page,
//! `docs/providers/NAME.md`. A provider without a profile keeps the behaviour the server's
//! `/ServiceProviderConfig` and its answers show (discovery).

/// How a service pages a listing (RFC 7644 §3.4.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// The largest `count` it honours; a larger one is cut to this.
    pub max_count: usize,
    /// Whether `startIndex` paging (RFC 7644 §3.4.2.4) is accepted.
    pub index: bool,
    /// Whether cursor paging (RFC 9865: `cursor` asked, `nextCursor` answered) is offered. A
    /// service with `cursor` and without `index` is read by cursor only.
    pub cursor: bool,
}

/// The filter expressions a service accepts (RFC 7644 §3.4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filters {
    /// Every operator and logical expression of the RFC.
    Full,
    /// Only `attribute eq value`, joined by `and`; anything else is refused with `400 invalidFilter`.
    EqAnd,
}

/// Whether a service shows a group's members when the group is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Members {
    /// `GET /Groups` and `GET /Groups/{id}` include `members`.
    Shown,
    /// Neither does; a user's groups are found with `GET /Groups?filter=<filter> eq "<user id>"`.
    Hidden {
        /// The attribute the member filter names: `members` or `members.value`.
        filter: &'static str,
    },
}

impl Members {
    /// The attribute the member filter names, when members are hidden.
    #[must_use]
    pub fn hidden_filter(&self) -> Option<&'static str> {
        match *self {
            Members::Hidden { filter } => Some(filter),
            Members::Shown => None,
        }
    }
}

/// How a member is removed from a group by PATCH (RFC 7644 §3.5.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRemoval {
    /// `{"op": "remove", "path": "members[value eq \"<id>\"]"}`.
    ValuePath,
    /// `{"op": "remove", "path": "members", "value": [{"value": "<id>"}]}`, the form some
    /// services accept instead of a value filter in the path.
    ValueList,
}

/// The PATCH a service accepts on groups (RFC 7644 §3.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupPatch {
    /// Whether `replace` is accepted. Where it is not, a single-valued attribute is set with
    /// `add`, which replaces its value (RFC 7644 §3.5.2.1).
    pub replace: bool,
    /// Whether `remove` without a `path` (every member at once) is accepted.
    pub remove_without_path: bool,
    /// How one member is removed.
    pub member_removal: MemberRemoval,
    /// The most members one PATCH request may add and remove, all operations counted.
    pub member_changes_per_request: Option<usize>,
    /// Whether `POST /Groups` accepts `members`. Where it does not, a group is created empty
    /// and its members are added by PATCH.
    pub members_on_create: bool,
}

/// The shape of a role value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleShape {
    /// `["ADMIN", "VIEWER"]`.
    Strings,
    /// `[{"value": "ADMIN"}]`, the shape of RFC 7643's `roles` and `entitlements`.
    Objects,
}

/// Where a service keeps a user's roles or entitlements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// The schema URN the attribute belongs to: an extension, or the core User schema.
    pub schema: &'static str,
    /// The multi-valued attribute, e.g. `tonkeanRoles` or `roles`.
    pub attribute: &'static str,
    /// The values the service accepts.
    pub values: &'static [&'static str],
    pub shape: RoleShape,
}

/// What removing a user from a service means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deprovisioning {
    /// `PATCH active=false`: the user stays, unable to sign in.
    Deactivate,
    /// `DELETE /Users/{id}`.
    Delete,
}

/// What a service's public SCIM documentation states about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// The name a config gives as `preset:` and `serve --emulate` takes, e.g. `aws-identity-center`.
    pub name: &'static str,
    /// The service's name, e.g. `AWS IAM Identity Center`.
    pub title: &'static str,
    /// The base URL's shape, with `{placeholders}`.
    pub url: &'static str,
    /// The `Authorization` scheme, e.g. `Bearer`.
    pub auth_scheme: &'static str,
    pub paging: Paging,
    pub filters: Filters,
    pub members: Members,
    pub group_patch: GroupPatch,
    /// Whether `PUT /Groups/{id}` is offered. Where it is not, a group changes only by PATCH.
    pub group_put: bool,
    /// Whether `/Bulk` is offered (RFC 7644 §3.7).
    pub bulk: bool,
    /// The most emails a user may hold; `None` when unbounded.
    pub max_emails: Option<usize>,
    /// The most phone numbers a user may hold; `None` when unbounded.
    pub max_phone_numbers: Option<usize>,
    /// Where roles are kept, when the service has them.
    pub roles: Option<Roles>,
    /// The requests per second the service allows, when it documents a limit.
    pub rate_limit: Option<f64>,
    /// What the service's documentation says deprovisioning a user should be.
    pub deprovisioning: Deprovisioning,
}

impl Profile {
    /// The page that documents this profile, relative to the repository's root.
    #[must_use]
    pub fn page(&self) -> String {
        format!("docs/providers/{}.md", self.name)
    }
}

/// Tonkean: roles in `urn:scim:tonkean:tonkeanRoles`, auth scheme `token`.
pub const TONKEAN: Profile = Profile {
    name: "tonkean",
    title: "Tonkean",
    url: "https://{tenant}.tonkean.com/scim/v2",
    auth_scheme: "token",
    paging: Paging {
        max_count: 1000,
        index: true,
        cursor: false,
    },
    filters: Filters::Full,
    members: Members::Shown,
    group_patch: GroupPatch {
        replace: true,
        remove_without_path: true,
        member_removal: MemberRemoval::ValuePath,
        member_changes_per_request: None,
        members_on_create: true,
    },
    group_put: true,
    bulk: true,
    max_emails: None,
    max_phone_numbers: None,
    roles: Some(Roles {
        schema: crate::urn::TONKEAN,
        attribute: "tonkeanRoles",
        values: &["PROCESS_CONTRIBUTOR", "SYSTEM_USER"],
        shape: RoleShape::Strings,
    }),
    rate_limit: None,
    deprovisioning: Deprovisioning::Deactivate,
};

/// AWS IAM Identity Center (docs/providers/aws-identity-center.md). Cursor paging only
/// (`startIndex` is not supported), `eq`/`and` filters, no members on reads, no `replace` or
/// remove-all on groups, at most 100 membership changes per request, one email and one phone.
pub const AWS_IDENTITY_CENTER: Profile = Profile {
    name: "aws-identity-center",
    title: "AWS IAM Identity Center",
    url: "https://scim.{region}.amazonaws.com/{tenant}/scim/v2",
    auth_scheme: "Bearer",
    paging: Paging {
        max_count: 100,
        index: false,
        cursor: true,
    },
    filters: Filters::EqAnd,
    members: Members::Hidden { filter: "members" },
    group_patch: GroupPatch {
        replace: false,
        remove_without_path: false,
        member_removal: MemberRemoval::ValueList,
        member_changes_per_request: Some(100),
        // CreateGroup accepts `members`, at most 100 in one request.
        members_on_create: true,
    },
    // PutGroup is not among the supported API operations.
    group_put: false,
    bulk: false,
    max_emails: Some(1),
    max_phone_numbers: Some(1),
    roles: None,
    // The guide documents `429 ThrottlingException` but no figure.
    rate_limit: None,
    // Not prescribed by the guide; `active=false` is the reversible choice.
    deprovisioning: Deprovisioning::Deactivate,
};

/// GitHub Enterprise Managed Users (docs/providers/github-emu.md). One `eq` filter without
/// `and`, members shown, roles as `{value}` objects; `active=false` is the reversible
/// ("soft") deprovisioning, `DELETE` the irreversible one.
pub const GITHUB_EMU: Profile = Profile {
    name: "github-emu",
    title: "GitHub Enterprise Managed Users",
    url: "https://api.github.com/scim/v2/enterprises/{enterprise}",
    auth_scheme: "Bearer",
    paging: Paging {
        // The documented default; no maximum is documented.
        max_count: 30,
        index: true,
        cursor: false,
    },
    filters: Filters::EqAnd,
    members: Members::Shown,
    group_patch: GroupPatch {
        replace: true,
        // Undocumented; assumed refused.
        remove_without_path: false,
        // Undocumented for removal; the form the reference shows for adding members.
        member_removal: MemberRemoval::ValueList,
        member_changes_per_request: None,
        members_on_create: true,
    },
    group_put: true,
    bulk: false,
    max_emails: None,
    max_phone_numbers: None,
    roles: Some(Roles {
        schema: crate::urn::USER,
        attribute: "roles",
        values: &[
            "user",
            "guest_collaborator",
            "enterprise_owner",
            "billing_manager",
        ],
        shape: RoleShape::Objects,
    }),
    // Documented as "no more than 1,000 users assigned per hour", not as a request rate.
    rate_limit: None,
    deprovisioning: Deprovisioning::Deactivate,
};

/// Slack (docs/providers/slack.md). Pages of at most 1,000, members shown, one member removed
/// with a value filter, `DELETE /Users/{id}` deactivates the user.
pub const SLACK: Profile = Profile {
    name: "slack",
    title: "Slack",
    url: "https://api.slack.com/scim/v2",
    auth_scheme: "Bearer",
    paging: Paging {
        max_count: 1000,
        index: true,
        cursor: false,
    },
    // The filter section is marked "not applicable to SCIM v2.0"; only `eq`/`and` is assumed.
    filters: Filters::EqAnd,
    members: Members::Shown,
    group_patch: GroupPatch {
        replace: true,
        // Every member is removed with `path: "members"` and no value; without a path is
        // undocumented.
        remove_without_path: false,
        member_removal: MemberRemoval::ValuePath,
        // The recommended batch; more than 15,000 is refused with `too_many_users`.
        member_changes_per_request: Some(5000),
        members_on_create: true,
    },
    group_put: true,
    bulk: false,
    max_emails: None,
    max_phone_numbers: None,
    // `roles` is a free-text profile field holding one value, not an access role.
    roles: None,
    // 180 requests a minute on each write endpoint, the lowest documented limit.
    rate_limit: Some(3.0),
    // `DELETE /Users/{id}` deactivates the Slack user; it is not erased.
    deprovisioning: Deprovisioning::Delete,
};

/// Databricks account SCIM (docs/providers/databricks.md). Members shown, one member removed
/// with a value filter, the `account_admin` role as a `{value}` object.
pub const DATABRICKS: Profile = Profile {
    name: "databricks",
    title: "Databricks account SCIM",
    url: "https://accounts.cloud.databricks.com/api/2.0/accounts/{account_id}/scim/v2",
    auth_scheme: "Bearer",
    paging: Paging {
        // No maximum found in the documentation; a conservative page.
        max_count: 100,
        index: true,
        cursor: false,
    },
    // The service also accepts `ne`, `co`, `sw` and `or`; scimform sends only `eq`/`and`.
    filters: Filters::EqAnd,
    members: Members::Shown,
    group_patch: GroupPatch {
        replace: true,
        // Undocumented; assumed refused.
        remove_without_path: false,
        member_removal: MemberRemoval::ValuePath,
        member_changes_per_request: None,
        members_on_create: true,
    },
    group_put: true,
    bulk: false,
    max_emails: None,
    max_phone_numbers: None,
    roles: Some(Roles {
        schema: crate::urn::USER,
        attribute: "roles",
        values: &["account_admin"],
        shape: RoleShape::Objects,
    }),
    // Published on the "Resource limits" page; no figure is taken from it here.
    rate_limit: None,
    deprovisioning: Deprovisioning::Deactivate,
};

/// Every profile, in the order the README's table lists them.
pub const PROFILES: [&Profile; 5] = [
    &TONKEAN,
    &AWS_IDENTITY_CENTER,
    &GITHUB_EMU,
    &SLACK,
    &DATABRICKS,
];

/// The profile named `name`, if there is one.
#[must_use]
pub fn find(name: &str) -> Option<&'static Profile> {
    PROFILES.into_iter().find(|profile| profile.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for profile in PROFILES {
            assert_eq!(find(profile.name), Some(profile));
            assert_eq!(
                PROFILES.iter().filter(|p| p.name == profile.name).count(),
                1
            );
        }
        assert_eq!(find("okta"), None);
    }

    #[test]
    fn every_profile_pages_one_way_or_another() {
        for profile in PROFILES {
            assert!(
                profile.paging.index || profile.paging.cursor,
                "{}",
                profile.name
            );
        }
        let aws = AWS_IDENTITY_CENTER.paging;
        assert!(
            aws.cursor && !aws.index,
            "AWS IAM Identity Center pages by cursor only"
        );
    }
}
