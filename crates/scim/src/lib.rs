//! The SCIM 2.0 vocabulary (RFC 7643, RFC 7644) that scimform's engine and its embedded server
//! both speak, written once: the resource types, the schema and message URNs, the verbs of a
//! PatchOp, the members of a ListResponse and an Error, how an attribute is found in a
//! resource whatever the case of its name, and what each profiled hosted service documents about
//! itself (`profile`).
//!
//! It holds words, not behaviour: nothing here sends, stores or decides anything, so either
//! side can depend on it without depending on the other.

pub mod attribute;
pub mod message;
pub mod patch;
pub mod profile;
pub mod urn;

mod resource;

pub use resource::ResourceKind;
