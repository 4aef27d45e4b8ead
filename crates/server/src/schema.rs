//! The schemas this server speaks (RFC 7643 §7, §8.7): core User and Group, the enterprise
//! extension and the `urn:scim:tonkean` extension, loaded from the same JSON documents the
//! server publishes at `/Schemas` and `/ResourceTypes`, so what it announces and what it enforces
//! cannot drift apart.

use std::sync::LazyLock;

use scim::ResourceKind;
use scim::attribute::names;
use scim::urn::{ENTERPRISE_USER, RESOURCE_TYPE, SCHEMA, SERVICE_PROVIDER_CONFIG, TONKEAN};
use serde::Deserialize;
use serde_json::{Value, json};

use super::filter::{AttrKind, AttrPath, AttributeTypes};

/// Largest page a list answers (announced as `filter.maxResults`).
pub const MAX_RESULTS: usize = 1000;
/// Most operations in one `/Bulk` request (announced as `bulk.maxOperations`).
pub const BULK_MAX_OPERATIONS: usize = 1000;
/// Largest `/Bulk` body in bytes (announced as `bulk.maxPayloadSize`).
pub const BULK_MAX_PAYLOAD: usize = 4 * 1024 * 1024;
/// Largest body of any other request, in bytes.
pub const MAX_BODY: usize = 1024 * 1024;

/// The extension schemas a resource of this type may carry on this server.
#[must_use]
pub fn extensions(kind: ResourceKind) -> &'static [&'static str] {
    match kind {
        ResourceKind::User => &[ENTERPRISE_USER, TONKEAN],
        ResourceKind::Group => &[],
    }
}

/// `mutability` of an attribute (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// `returned` of an attribute (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// One attribute definition.
// The flags are RFC 7643 §7 characteristics, each independent of the others.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default = "read_write")]
    pub mutability: Mutability,
    #[serde(default = "returned_default")]
    pub returned: Returned,
    #[serde(default)]
    pub canonical_values: Vec<String>,
    #[serde(default)]
    pub sub_attributes: Vec<Attribute>,
    /// Whether `canonicalValues` is a closed list here; RFC 7643 leaves them open, and only the
    /// Tonkean roles are enforced.
    #[serde(skip)]
    pub closed_values: bool,
}

fn read_write() -> Mutability {
    Mutability::ReadWrite
}
fn returned_default() -> Returned {
    Returned::Default
}

impl Attribute {
    /// The filter module's type for this attribute.
    #[must_use]
    pub fn attr_kind(&self) -> AttrKind {
        match self.kind.as_str() {
            "boolean" => AttrKind::Boolean,
            "decimal" => AttrKind::Decimal,
            "integer" => AttrKind::Integer,
            "dateTime" => AttrKind::DateTime,
            "binary" => AttrKind::Binary,
            "reference" => AttrKind::Reference,
            "complex" => AttrKind::Complex,
            _ => AttrKind::String,
        }
    }

    #[must_use]
    pub fn is_complex(&self) -> bool {
        self.kind == "complex"
    }

    /// A sub-attribute by case-insensitive name.
    #[must_use]
    pub fn sub(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes.iter().find(|a| names(&a.name, name))
    }
}

/// One schema document.
#[derive(Debug, Clone, Deserialize)]
pub struct Schema {
    pub id: String,
    pub attributes: Vec<Attribute>,
}

impl Schema {
    /// An attribute by case-insensitive name.
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| names(&a.name, name))
    }
}

/// Every schema and the documents describing them, parsed once.
pub struct Registry {
    schemas: Vec<Schema>,
    documents: Vec<Value>,
    resource_types: Vec<Value>,
    common: Schema,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::load);

/// The process-wide schema registry.
#[must_use]
pub fn registry() -> &'static Registry {
    &REGISTRY
}

impl Registry {
    fn load() -> Self {
        let documents: Vec<Value> = serde_json::from_str(include_str!("schemas/schemas.json"))
            .expect("the bundled schemas are valid JSON");
        let resource_types: Vec<Value> =
            serde_json::from_str(include_str!("schemas/resource-types.json"))
                .expect("the bundled resource types are valid JSON");
        let mut schemas: Vec<Schema> = documents
            .iter()
            .map(|d| Schema::deserialize(d).expect("the bundled schemas are well-formed"))
            .collect();
        for schema in &mut schemas {
            if schema.id == TONKEAN {
                for attribute in &mut schema.attributes {
                    attribute.closed_values = !attribute.canonical_values.is_empty();
                }
            }
        }
        // RFC 7643 §3.1: attributes every resource carries, outside any schema document.
        let common = Schema::deserialize(json!({
            "id": "common",
            "attributes": [
                {"name": "id", "type": "string", "caseExact": true, "mutability": "readOnly",
                 "returned": "always"},
                {"name": "externalId", "type": "string", "caseExact": true},
                {"name": "schemas", "type": "reference", "multiValued": true, "caseExact": true,
                 "returned": "always"},
                {"name": "meta", "type": "complex", "mutability": "readOnly", "subAttributes": [
                    {"name": "resourceType", "type": "string", "caseExact": true,
                     "mutability": "readOnly"},
                    {"name": "created", "type": "dateTime", "mutability": "readOnly"},
                    {"name": "lastModified", "type": "dateTime", "mutability": "readOnly"},
                    {"name": "location", "type": "reference", "caseExact": true,
                     "mutability": "readOnly"},
                    {"name": "version", "type": "string", "caseExact": true,
                     "mutability": "readOnly"}
                ]}
            ]
        }))
        .expect("the common attributes are well-formed");
        Self {
            schemas,
            documents,
            resource_types,
            common,
        }
    }

    /// A schema by URN (case-insensitive, as URNs compare in SCIM).
    #[must_use]
    pub fn schema(&self, urn: &str) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The canonical spelling of a schema URN this resource type may carry.
    #[must_use]
    // Asked of the registry like every other schema question, though the schemas a resource
    // type carries are fixed today (`extensions`).
    #[expect(clippy::unused_self)]
    pub fn schema_of(&self, kind: ResourceKind, urn: &str) -> Option<&'static str> {
        std::iter::once(kind.core_schema())
            .chain(extensions(kind).iter().copied())
            .find(|s| s.eq_ignore_ascii_case(urn))
    }

    /// Resolves a top-level attribute of a resource type: `urn` names an extension (or the core
    /// schema, or nothing). Returns the canonical extension URN (None for core) and the
    /// definition.
    #[must_use]
    pub fn attribute(
        &self,
        kind: ResourceKind,
        urn: Option<&str>,
        name: &str,
    ) -> Option<(Option<&'static str>, &Attribute)> {
        let canonical = match urn {
            Some(urn) => self.schema_of(kind, urn)?,
            None => kind.core_schema(),
        };
        let schema = self.schema(canonical)?;
        let core = canonical == kind.core_schema();
        let attribute = schema
            .attribute(name)
            .or_else(|| core.then(|| self.common.attribute(name))?)?;
        Some(((!core).then_some(canonical), attribute))
    }

    /// Splits an attribute name as written in `attributes`, `sortBy` or a PATCH value key into
    /// an [`AttrPath`]: `urn:…:User:name.givenName`, `urn:scim:tonkean:tonkeanRoles`,
    /// `emails.value`. The URN is matched against the known schemas, because a URN's own colons
    /// make the split ambiguous otherwise.
    #[must_use]
    // Asked of the registry like every other schema question, though the schemas a resource
    // type carries are fixed today (`extensions`).
    #[expect(clippy::unused_self)]
    pub fn split_name(&self, kind: ResourceKind, input: &str) -> AttrPath {
        let input = input.trim();
        let mut urn = None;
        let mut rest = input;
        for schema in std::iter::once(kind.core_schema()).chain(extensions(kind).iter().copied()) {
            if input.len() > schema.len()
                && input[..schema.len()].eq_ignore_ascii_case(schema)
                && input.as_bytes()[schema.len()] == b':'
            {
                urn = Some(schema.to_owned());
                rest = &input[schema.len() + 1..];
                break;
            }
        }
        let (attr, sub_attr) = match rest.split_once('.') {
            Some((a, s)) => (a.to_owned(), Some(s.to_owned())),
            None => (rest.to_owned(), None),
        };
        AttrPath {
            urn,
            attr,
            sub_attr,
        }
    }

    /// Resolves a full path to its definition (the sub-attribute's when there is one).
    #[must_use]
    pub fn resolve(&self, kind: ResourceKind, path: &AttrPath) -> Option<&Attribute> {
        let (_, attribute) = self.attribute(kind, path.urn.as_deref(), &path.attr)?;
        match &path.sub_attr {
            Some(sub) => attribute.sub(sub),
            None => Some(attribute),
        }
    }

    /// `GET /Schemas` documents, with `schemas` and `meta` filled in.
    #[must_use]
    pub fn schema_documents(&self, base_url: &str) -> Vec<Value> {
        self.documents
            .iter()
            .map(|d| {
                let mut d = d.clone();
                let id = d["id"].as_str().unwrap_or_default().to_owned();
                d["schemas"] = json!([SCHEMA]);
                d["meta"] = json!({
                    "resourceType": "Schema",
                    "location": format!("{base_url}/Schemas/{id}"),
                });
                d
            })
            .collect()
    }

    /// `GET /ResourceTypes` documents, with `meta` filled in.
    #[must_use]
    pub fn resource_type_documents(&self, base_url: &str) -> Vec<Value> {
        self.resource_types
            .iter()
            .map(|d| {
                let mut d = d.clone();
                let id = d["id"].as_str().unwrap_or_default().to_owned();
                d["schemas"] = json!([RESOURCE_TYPE]);
                d["meta"] = json!({
                    "resourceType": "ResourceType",
                    "location": format!("{base_url}/ResourceTypes/{id}"),
                });
                d
            })
            .collect()
    }
}

/// `GET /ServiceProviderConfig` (RFC 7643 §5).
#[must_use]
pub fn service_provider_config(base_url: &str) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "documentationUri": "https://github.com/scimform/scimform",
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": BULK_MAX_OPERATIONS,
            "maxPayloadSize": BULK_MAX_PAYLOAD,
        },
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A token in the Authorization header, scheme `Bearer` or `token`.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig"),
        },
    })
}

/// [`AttributeTypes`] for filters over whole resources of one type.
pub struct ResourceTypes(pub ResourceKind);

impl AttributeTypes for ResourceTypes {
    fn case_exact(&self, path: &AttrPath) -> bool {
        registry()
            .resolve(self.0, path)
            .is_some_and(|a| a.case_exact)
    }

    fn kind(&self, path: &AttrPath) -> AttrKind {
        registry()
            .resolve(self.0, path)
            .map_or(AttrKind::String, Attribute::attr_kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim::urn::USER;

    #[test]
    fn splits_three_part_urns() {
        let p = registry().split_name(ResourceKind::User, "urn:scim:tonkean:tonkeanRoles");
        assert_eq!(p.urn.as_deref(), Some(TONKEAN));
        assert_eq!(p.attr, "tonkeanRoles");
        let p = registry().split_name(ResourceKind::User, "name.givenName");
        assert_eq!(
            (p.urn, p.attr.as_str(), p.sub_attr.as_deref()),
            (None, "name", Some("givenName"))
        );
        let p = registry().split_name(ResourceKind::User, &format!("{USER}:userName"));
        assert_eq!(p.urn.as_deref(), Some(USER));
    }

    #[test]
    fn resolves_attributes() {
        let r = registry();
        assert!(r.attribute(ResourceKind::User, None, "USERNAME").is_some());
        assert!(
            r.attribute(ResourceKind::User, Some(TONKEAN), "tonkeanRoles")
                .unwrap()
                .1
                .closed_values
        );
        assert!(
            r.attribute(ResourceKind::Group, Some(TONKEAN), "tonkeanRoles")
                .is_none()
        );
        assert!(r.attribute(ResourceKind::Group, None, "meta").is_some());
    }
}
