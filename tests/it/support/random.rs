//! A tiny deterministic generator (Knuth's MMIX LCG) and the YAML- and unicode-hostile names
//! random directories are made of: the same seed, the same directory.
//!
//! Shared by the integration tests and, through `#[path]`, by unit tests in `src/`; each uses
//! a part of it.
#![allow(dead_code)]

pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

pub const GIVEN: &[&str] = &[
    "Ada",
    "Łukasz",
    "Zoë",
    "名前",
    "Ωμέγα",
    "José",
    "yes",
    "0042",
    "Null",
    "O'Brien",
    "a: b",
    "#tag",
    "*star",
    "&amp",
    "Renée",
    "Ægir",
];
pub const FAMILY: &[&str] = &[
    "Lovelace",
    "Żółć",
    "Müller",
    "Ng",
    "true",
    "- dash",
    "van der Berg",
];
pub const LOCALES: &[&str] = &["en-US", "fr-FR", "ja-JP", "de-CH", "pt-BR"];
pub const TIMEZONES: &[&str] = &["Europe/Paris", "America/New_York", "Asia/Tokyo"];
pub const ROLES: &[&str] = &["PROCESS_CONTRIBUTOR", "SYSTEM_USER"];
