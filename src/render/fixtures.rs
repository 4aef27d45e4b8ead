//! Hand-built plans that exercise every shape the renderers must handle. They are written the
//! way the diff engine emits changes: a create lists every attribute it sets; members and role
//! sets are one change each, with the whole list before and after.

use std::collections::BTreeMap;

use scim::ResourceKind;
use serde_json::{Value, json};

use crate::client::{BulkLimits, Capabilities};
use crate::plan::{
    Action, Change, Method, Observed, Op, Phase, Plan, ProviderPlan, Reason, RenameOutcome,
    Request, Server, ServerIdentity, Unmanaged, Warning,
};

const ROLES: &str = "urn:scim:tonkean:tonkeanRoles";

/// The digests of a config folder's files, as a plan records them.
fn config_files() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("groups.yaml".to_owned(), "sha256:4f1c0d9a".to_owned()),
        ("users.yaml".to_owned(), "sha256:9e27b3c5".to_owned()),
    ])
}

fn change(attribute: &str, old: Option<Value>, new: Option<Value>) -> Change {
    Change {
        attribute: attribute.to_owned(),
        old,
        new,
    }
}

fn present(id: &str, version: Option<&str>) -> Observed {
    Observed::Present {
        id: id.to_owned(),
        version: version.map(str::to_owned),
        hash: format!("sha256:{id}"),
    }
}

fn patch(path: &str, operations: &Value) -> Request {
    Request {
        method: Method::Patch,
        path: path.to_owned(),
        body: Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": operations,
        })),
    }
}

fn op(phase: Phase, action: Action, resource: ResourceKind, key: &str, request: Request) -> Op {
    Op {
        phase,
        action,
        resource,
        key: key.to_owned(),
        reason: None,
        bulk_id: None,
        changes: Vec::new(),
        request,
        observed: Observed::Absent,
        depends_on: Vec::new(),
    }
}

/// Tonkean's user phase: a create with every kind of attribute, a scalar and role update, and
/// an update of a long JSON value and of a multi-line string.
fn tonkean_users() -> Vec<Op> {
    let create_ada = Op {
        bulk_id: Some("u1".to_owned()),
        changes: vec![
            change("userName", None, Some(json!("ada@example.com"))),
            change(
                "name",
                None,
                Some(json!({"givenName": "Ada", "familyName": "Lovelace"})),
            ),
            change("displayName", None, Some(json!("Ada Lovelace"))),
            change("emails", None, Some(json!(["ada@example.com"]))),
            change("active", None, Some(json!(true))),
            change(ROLES, None, Some(json!(["SYSTEM_USER"]))),
        ],
        ..op(
            Phase::Users,
            Action::Create,
            ResourceKind::User,
            "ada@example.com",
            Request {
                method: Method::Post,
                path: "/Users".to_owned(),
                body: Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:scim:tonkean"],
                    "userName": "ada@example.com",
                    "name": {"givenName": "Ada", "familyName": "Lovelace"},
                    "displayName": "Ada Lovelace",
                    "emails": [{"value": "ada@example.com"}],
                    "active": true,
                    "urn:scim:tonkean": {"tonkeanRoles": ["SYSTEM_USER"]},
                })),
            },
        )
    };
    let update_bob = Op {
        changes: vec![
            change("title", Some(json!("Analyst")), Some(json!("Lead Analyst"))),
            change("nickName", Some(json!("Bobby")), None),
            change(
                ROLES,
                Some(json!(["PROCESS_CONTRIBUTOR"])),
                Some(json!(["SYSTEM_USER"])),
            ),
        ],
        observed: present("2819c223", Some("W/\"3\"")),
        ..op(
            Phase::Users,
            Action::Update,
            ResourceKind::User,
            "bob@example.com",
            patch(
                "/Users/2819c223",
                &json!([
                    {"op": "replace", "path": "title", "value": "Lead Analyst"},
                    {"op": "remove", "path": "nickName"},
                    {"op": "replace", "path": ROLES, "value": ["SYSTEM_USER"]},
                ]),
            ),
        )
    };
    let update_grace = Op {
        changes: vec![
            change(
                "phoneNumbers",
                Some(json!([
                    {"value": "+1 555 0100", "type": "work", "primary": true},
                    {"value": "+1 555 0199", "type": "mobile"},
                ])),
                Some(json!([
                    {"value": "+1 555 0100", "type": "work", "primary": true},
                    {"value": "+1 555 0142", "type": "mobile"},
                ])),
            ),
            change(
                "urn:example:hr:2.0:User:notes",
                Some(json!(
                    "Joined 2021.\nOn call for payroll.\nPrefers email.\nBased in Lisbon."
                )),
                Some(json!(
                    "Joined 2021.\nLeads the payroll rota.\nPrefers email.\nBased in Lisbon."
                )),
            ),
        ],
        observed: present("5d48a0a8", None),
        ..op(
            Phase::Users,
            Action::Update,
            ResourceKind::User,
            "grace@example.com",
            patch("/Users/5d48a0a8", &json!([])),
        )
    };
    vec![create_ada, update_bob, update_grace]
}

/// Tonkean's membership phases: a group created with members, members added to one and
/// removed from it in the later phase.
fn tonkean_groups() -> Vec<Op> {
    let create_owners = Op {
        bulk_id: Some("g1".to_owned()),
        depends_on: vec!["u1".to_owned()],
        changes: vec![
            change("displayName", None, Some(json!("Process Owners"))),
            change(
                "members",
                None,
                Some(json!(["ada@example.com", "bob@example.com"])),
            ),
        ],
        ..op(
            Phase::Groups,
            Action::Create,
            ResourceKind::Group,
            "Process Owners",
            Request {
                method: Method::Post,
                path: "/Groups".to_owned(),
                body: Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "Process Owners",
                    "members": [{"value": "bulkId:u1"}, {"value": "2819c223"}],
                })),
            },
        )
    };
    let add_analysts = Op {
        depends_on: vec!["u1".to_owned()],
        changes: vec![change(
            "members",
            Some(json!(["bob@example.com", "carol@example.com"])),
            Some(json!([
                "bob@example.com",
                "carol@example.com",
                "ada@example.com"
            ])),
        )],
        observed: present("e9e30dba", Some("W/\"7\"")),
        ..op(
            Phase::Groups,
            Action::Update,
            ResourceKind::Group,
            "Analysts",
            patch(
                "/Groups/e9e30dba",
                &json!([{"op": "add", "path": "members", "value": [{"value": "bulkId:u1"}]}]),
            ),
        )
    };
    let remove_analysts = Op {
        changes: vec![change(
            "members",
            Some(json!([
                "bob@example.com",
                "carol@example.com",
                "ada@example.com"
            ])),
            Some(json!(["bob@example.com", "ada@example.com"])),
        )],
        observed: present("e9e30dba", Some("W/\"7\"")),
        ..op(
            Phase::RemoveMembers,
            Action::Update,
            ResourceKind::Group,
            "Analysts",
            patch(
                "/Groups/e9e30dba",
                &json!([{"op": "remove", "path": "members[value eq \"7d1f0c2e\"]"}]),
            ),
        )
    };
    vec![create_owners, add_analysts, remove_analysts]
}

/// Tonkean deactivates (`deprovision: deactivate`): a tombstoned user and a pruned one.
fn tonkean_deprovisions() -> Vec<Op> {
    let deactivate_carol = Op {
        reason: Some(Reason::Tombstone),
        changes: vec![change("active", Some(json!(true)), Some(json!(false)))],
        observed: present("7d1f0c2e", Some("W/\"12\"")),
        ..op(
            Phase::DeprovisionUsers,
            Action::Deactivate,
            ResourceKind::User,
            "carol@example.com",
            patch(
                "/Users/7d1f0c2e",
                &json!([{"op": "replace", "path": "active", "value": false}]),
            ),
        )
    };
    let deactivate_mallory = Op {
        reason: Some(Reason::Pruned),
        observed: present("0b7e5f11", None),
        ..op(
            Phase::DeprovisionUsers,
            Action::Deactivate,
            ResourceKind::User,
            "mallory@example.com",
            patch(
                "/Users/0b7e5f11",
                &json!([{"op": "replace", "path": "active", "value": false}]),
            ),
        )
    };
    vec![deactivate_carol, deactivate_mallory]
}

fn tonkean() -> ProviderPlan {
    ProviderPlan {
        provider: "tonkean".to_owned(),
        url: "${TONKEAN_SCIM_URL}".to_owned(),
        server: Some(Server {
            url: "https://tonkean.example.com/scim/v2".to_owned(),
            identity: Some(ServerIdentity {
                service_provider_config: "sha256:6a0e31c2".to_owned(),
                resource_types: Some("sha256:b5d47f90".to_owned()),
            }),
        }),
        capabilities: Capabilities {
            patch: true,
            bulk: None,
            filter: true,
            max_results: Some(100),
            etag: false,
            sort: false,
            cursor: false,
        },
        reads: 4,
        existing_users: 12,
        unmanaged: Unmanaged {
            users: 5,
            groups: 1,
            user_names: [
                "ada.lovelace@example.com",
                "erin@example.com",
                "frank@example.com",
                "heidi@example.com",
                "ivan@example.com",
            ]
            .map(str::to_owned)
            .to_vec(),
            group_names: vec!["Contractors".to_owned()],
        },
        warnings: vec![
            Warning::LikelyRename {
                resource: ResourceKind::User,
                key: "ada@example.com".to_owned(),
                of: "ada.lovelace@example.com".to_owned(),
                because: "same email ada@example.com".to_owned(),
                then: RenameOutcome::LeftAlone,
                external_id: None,
            },
            Warning::UnmanagedRoles {
                user: "ada.lovelace@example.com".to_owned(),
                roles: vec!["SYSTEM_USER".to_owned()],
                active: Some(true),
            },
            Warning::UnmanagedRoles {
                user: "heidi@example.com".to_owned(),
                roles: vec!["PROCESS_CONTRIBUTOR".to_owned(), "SYSTEM_USER".to_owned()],
                active: Some(false),
            },
        ],
        bulk: false,
        notes: Vec::new(),
        reading: crate::plan::Reading::default(),
        ops: [tonkean_users(), tonkean_groups(), tonkean_deprovisions()].concat(),
    }
}

/// Two group renames: one in place (its externalId matched), one as a replacement.
fn sandbox_renames() -> [Op; 3] {
    // Renamed in place: the server group with the declared externalId had another name.
    let rename_engineering = Op {
        changes: vec![change(
            "displayName",
            Some(json!("Eng")),
            Some(json!("Engineering")),
        )],
        observed: present("7", Some("W/\"4\"")),
        ..op(
            Phase::Groups,
            Action::Update,
            ResourceKind::Group,
            "Engineering",
            patch(
                "/Groups/7",
                &json!([{"op": "replace", "path": "displayName", "value": "Engineering"}]),
            ),
        )
    };
    // Renamed without an externalId: created anew, and the old group pruned.
    let create_platform = Op {
        bulk_id: Some("g2".to_owned()),
        changes: vec![change("members", None, Some(json!(["bob@example.com"])))],
        ..op(
            Phase::Groups,
            Action::Create,
            ResourceKind::Group,
            "Platform Team",
            Request {
                method: Method::Post,
                path: "/Groups".to_owned(),
                body: Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "Platform Team",
                    "members": [{"value": "2"}],
                })),
            },
        )
    };
    let delete_platform = Op {
        reason: Some(Reason::Pruned),
        observed: present("8", Some("W/\"1\"")),
        ..op(
            Phase::DeleteGroups,
            Action::Delete,
            ResourceKind::Group,
            "Platform",
            Request {
                method: Method::Delete,
                path: "/Groups/8".to_owned(),
                body: None,
            },
        )
    };
    [rename_engineering, create_platform, delete_platform]
}

fn sandbox() -> ProviderPlan {
    let create_ada = Op {
        bulk_id: Some("u1".to_owned()),
        changes: vec![
            change("userName", None, Some(json!("ada@example.com"))),
            change("displayName", None, Some(json!("Ada Lovelace"))),
        ],
        ..op(
            Phase::Users,
            Action::Create,
            ResourceKind::User,
            "ada@example.com",
            Request {
                method: Method::Post,
                path: "/Users".to_owned(),
                body: Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": "ada@example.com",
                    "displayName": "Ada Lovelace",
                })),
            },
        )
    };
    let delete_dave = Op {
        reason: Some(Reason::Pruned),
        observed: present("4", Some("W/\"1\"")),
        ..op(
            Phase::DeprovisionUsers,
            Action::Delete,
            ResourceKind::User,
            "dave@example.com",
            Request {
                method: Method::Delete,
                path: "/Users/4".to_owned(),
                body: None,
            },
        )
    };
    let delete_old_team = Op {
        reason: Some(Reason::Tombstone),
        observed: present("9", Some("W/\"2\"")),
        ..op(
            Phase::DeleteGroups,
            Action::Delete,
            ResourceKind::Group,
            "Old Team",
            Request {
                method: Method::Delete,
                path: "/Groups/9".to_owned(),
                body: None,
            },
        )
    };
    let [rename_engineering, create_platform, delete_platform] = sandbox_renames();
    ProviderPlan {
        provider: "sandbox".to_owned(),
        url: "embedded:.scimform/sandbox".to_owned(),
        server: Some(Server {
            url: "embedded:/srv/directory/.scimform/sandbox".to_owned(),
            identity: None,
        }),
        capabilities: Capabilities {
            patch: true,
            bulk: Some(BulkLimits {
                max_operations: 1000,
                max_payload_size: 1_048_576,
            }),
            filter: true,
            max_results: Some(1000),
            etag: true,
            sort: true,
            cursor: false,
        },
        reads: 3,
        existing_users: 2,
        unmanaged: Unmanaged::default(),
        warnings: vec![Warning::LikelyRename {
            resource: ResourceKind::Group,
            key: "Platform Team".to_owned(),
            of: "Platform".to_owned(),
            because: "the same member".to_owned(),
            then: RenameOutcome::Replaced,
            external_id: None,
        }],
        reading: crate::plan::Reading::default(),
        bulk: false,
        notes: Vec::new(),
        ops: vec![
            create_ada,
            rename_engineering,
            create_platform,
            delete_dave,
            delete_old_team,
            delete_platform,
        ],
    }
}

/// Creates, updates (scalar, removed, role set, member set, long JSON, multi-line string),
/// member removal, a tombstoned and a pruned deactivation, a pruned user deletion and a
/// tombstoned group deletion, a group renamed in place and one replaced, unmanaged objects and
/// warnings, across two providers.
pub fn two_providers() -> Plan {
    let mut plan = Plan::new(config_files(), vec![tonkean(), sandbox()]);
    plan.config_path = Some("directory".to_owned());
    plan
}

/// One provider with one change, for the simplest shape of each format.
pub fn single_update() -> Plan {
    let mut provider = tonkean();
    provider.ops.truncate(2);
    provider.ops.remove(0);
    provider.unmanaged = Unmanaged::default();
    provider.warnings.clear();
    Plan::new(config_files(), vec![provider])
}

/// Two providers that already match the config; one holds objects the config does not manage.
pub fn empty() -> Plan {
    let mut tonkean = tonkean();
    tonkean.ops.clear();
    tonkean
        .warnings
        .retain(|warning| matches!(warning, Warning::UnmanagedRoles { .. }));
    let mut sandbox = sandbox();
    sandbox.ops.clear();
    sandbox.warnings.clear();
    Plan::new(config_files(), vec![tonkean, sandbox])
}

/// One provider without changes whose server holds many objects the config does not declare:
/// more than the text format names, and more than the plan read (it looked the declared users
/// up by filter).
pub fn many_unmanaged() -> Plan {
    let mut provider = tonkean();
    provider.ops.clear();
    provider.warnings.clear();
    provider.unmanaged = Unmanaged {
        users: 1000,
        groups: 2,
        user_names: (1..=25)
            .map(|i| format!("user{i:02}@example.com"))
            .collect(),
        group_names: vec!["Contractors".to_owned(), "Interns".to_owned()],
    };
    Plan::new(config_files(), vec![provider])
}
