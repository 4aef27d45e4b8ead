//! The resource types scimform manages (RFC 7643 §4).

use crate::urn;

/// A SCIM resource type: a User or a Group.
///
/// It serializes as `user` and `group`, the words a saved plan records.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// The kind as people read it: `user`, `group`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
        }
    }

    /// The resource type's name, as in `meta.resourceType` (RFC 7643 §3.1).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
        }
    }

    /// The kind whose [`ResourceKind::name`] is `name`, exactly.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "User" => Some(Self::User),
            "Group" => Some(Self::Group),
            _ => None,
        }
    }

    /// The endpoint path relative to the base URL (RFC 7644 §3.2): `/Users`, `/Groups`.
    #[must_use]
    pub const fn endpoint(self) -> &'static str {
        match self {
            Self::User => "/Users",
            Self::Group => "/Groups",
        }
    }

    /// The core schema URN.
    #[must_use]
    pub const fn core_schema(self) -> &'static str {
        match self {
            Self::User => urn::USER,
            Self::Group => urn::GROUP,
        }
    }

    /// The attribute a resource of this kind is known by: `userName` for a User
    /// (RFC 7643 §4.1.1), `displayName` for a Group (RFC 7643 §4.2).
    #[must_use]
    pub const fn key_attribute(self) -> &'static str {
        match self {
            Self::User => "userName",
            Self::Group => "displayName",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ResourceKind;

    #[test]
    fn a_kind_reads_as_scim_names_it_and_as_a_saved_plan_records_it() {
        for kind in [ResourceKind::User, ResourceKind::Group] {
            assert_eq!(ResourceKind::from_name(kind.name()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<ResourceKind>(&json).unwrap(), kind);
        }
        assert_eq!(ResourceKind::User.endpoint(), "/Users");
        assert_eq!(ResourceKind::Group.core_schema(), crate::urn::GROUP);
        assert_eq!(ResourceKind::from_name("user"), None);
    }
}
