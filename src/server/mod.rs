//! The embedded SCIM 2.0 service provider (SPEC §6): `scimform serve` and `embedded:` provider
//! urls. It stands on its own: it never imports the plan engine, nor the engine it.

pub mod filter;
