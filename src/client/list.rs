//! Reading a whole resource type with paginated lists (RFC 7644 §3.4.2.4), and proving that the
//! listing is complete before anything relies on it for deletion (SPEC §3.1).
//!
//! The first page tells the total and how many resources the server really returns per page
//! (servers clamp `count` or ignore it); the remaining pages are then fetched concurrently. A
//! directory that changes while it is read can shift items between pages, so the result is
//! checked: the listing is complete only when the unique ids read equal `totalResults`.
//!
//! Each page is read once, by `serde_json`, and each resource on it is made by its [`Listed`]
//! type while the page is parsed: no page is held as a tree, and no resource is read twice.

use std::fmt;
use std::hash::BuildHasher;
use std::marker::PhantomData;

use hashbrown::{DefaultHashBuilder, HashTable};
use reqwest::Method;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use tokio::task::JoinSet;

use super::json::{MemberName, Object, ReadObject, Skip, scalars_read_as};
use super::{Capabilities, ClientError, ResourceKind, ScimClient};
use crate::attribute::{Pick, get_ci};

/// How many pages are fetched at once after the first.
const CONCURRENT_PAGES: usize = 4;

/// The page size asked for when the server announces no `maxResults`.
const DEFAULT_PAGE_SIZE: usize = 1000;

/// How much of each listed resource its reader keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Keep {
    /// What the resource's type holds, and nothing more.
    #[default]
    Managed,
    /// The whole resource as well, as the server sent it: a server without PATCH is updated
    /// with PUT, which sends the resource back whole (RFC 7644 §3.5.1).
    Whole,
}

impl Keep {
    /// What a plan against a server with `capabilities` needs of each resource.
    #[must_use]
    pub fn for_server(capabilities: &Capabilities) -> Self {
        if capabilities.patch {
            Keep::Managed
        } else {
            Keep::Whole
        }
    }
}

/// A resource as a listing keeps it, read by serde while the page holding it is parsed.
///
/// Each caller keeps what it needs: the engine's live state the attributes the diff reads
/// (SPEC §8), others the whole [`Value`].
pub trait Listed: Sized + Send + 'static {
    /// Reads one item of a page's `Resources`, or a resource on its own; `Ok(None)` when it is
    /// not a resource of this type (not an object, say, or one without an id). `keep` says
    /// how much of it to keep, for types that can keep less than the whole.
    fn deserialize_item<'de, D: Deserializer<'de>>(
        deserializer: D,
        keep: Keep,
    ) -> Result<Option<Self>, D::Error>;
    /// The server's id, `None` when the resource has none.
    fn id(&self) -> Option<&str>;
}

impl Listed for Value {
    fn deserialize_item<'de, D: Deserializer<'de>>(
        deserializer: D,
        _: Keep,
    ) -> Result<Option<Self>, D::Error> {
        Value::deserialize(deserializer).map(Some)
    }

    fn id(&self) -> Option<&str> {
        get_ci(self, "id").and_then(Value::as_str)
    }
}

/// One `ListResponse` (RFC 7644 §3.4.2), read tolerantly.
#[derive(Debug)]
pub(crate) struct ListPage<T> {
    pub total_results: Option<usize>,
    pub resources: Vec<T>,
}

impl<T> Default for ListPage<T> {
    fn default() -> Self {
        ListPage {
            total_results: None,
            resources: Vec::new(),
        }
    }
}

/// Why a response is not a page of a listing.
#[derive(Debug)]
pub(crate) enum PageError {
    /// The body is not JSON, or holds a value `serde_json` refuses.
    Json(serde_json::Error),
    /// The body is JSON, but not a `ListResponse`.
    NotAList,
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::Json(error) if error.to_string().starts_with("number out of range") => {
                write!(f, "a number that overflows f64 ({error})")
            }
            PageError::Json(error) => error.fmt(f),
            PageError::NotAList => {
                f.write_str("expected a ListResponse with totalResults and Resources")
            }
        }
    }
}

impl<T: Listed> ListPage<T> {
    /// Reads a page in one pass: each resource is made while the page is parsed, so a page
    /// is never held as a tree. An empty body is an empty list.
    pub fn parse(body: &[u8], keep: Keep) -> Result<Self, PageError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(ListPage::default());
        }
        // A body checked as UTF-8 once is read without checking each string again; one that is
        // not is read from its bytes, for serde_json to say where it fails.
        let page = match std::str::from_utf8(body) {
            Ok(text) => Self::read(serde_json::de::StrRead::new(text), keep),
            Err(_) => Self::read(serde_json::de::SliceRead::new(body), keep),
        };
        page.map_err(PageError::Json)?.ok_or(PageError::NotAList)
    }

    fn read<'de, R: serde_json::de::Read<'de>>(
        read: R,
        keep: Keep,
    ) -> Result<Option<Self>, serde_json::Error> {
        let mut parser = serde_json::Deserializer::new(read);
        let page = Object(PageReader {
            keep,
            resources: PhantomData,
        })
        .deserialize(&mut parser)?;
        parser.end()?;
        Ok(page.flatten())
    }
}

/// Reads a `ListResponse` object as it is parsed: `totalResults`, and each item of `Resources`
/// made into a `T` on the way, member names matched by [`crate::attribute`]'s rule. `None`
/// when the object is not a list.
struct PageReader<T> {
    keep: Keep,
    resources: PhantomData<T>,
}

impl<'de, T: Listed> ReadObject<'de> for PageReader<T> {
    type Value = Option<ListPage<T>>;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut total = Pick::default();
        let mut resources = Pick::default();
        while let Some(MemberName(key)) = map.next_key()? {
            if total.wants(&key, "totalResults") {
                let value = map.next_value::<TotalResults>()?.0;
                total.put(key, value);
            } else if resources.wants(&key, "Resources") {
                let value = map.next_value_seed(ResourcesReader {
                    keep: self.keep,
                    resources: PhantomData,
                })?;
                resources.put(key, value);
            } else {
                map.next_value::<Skip>()?;
            }
        }
        let total_results = total.into_value().flatten();
        let resources = match resources.into_value() {
            None if total_results.is_none() => return Ok(None),
            None => Vec::new(),
            // `Resources` that is neither an array nor null.
            Some(None) => return Ok(None),
            Some(Some(items)) => items,
        };
        Ok(Some(ListPage {
            total_results,
            resources,
        }))
    }
}

/// A page's `totalResults`: a number, or a string holding one, as some servers send it;
/// `None` for anything else.
struct TotalResults(Option<usize>);

impl<'de> Deserialize<'de> for TotalResults {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TotalVisitor;
        impl<'de> Visitor<'de> for TotalVisitor {
            type Value = TotalResults;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a count")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(TotalResults(usize::try_from(v).ok()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TotalResults(v.parse().ok()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(TotalResults(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(TotalResults(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(TotalResults(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(TotalResults(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Skip::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(TotalResults(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Skip::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(TotalResults(None))
            }
        }
        deserializer.deserialize_any(TotalVisitor)
    }
}

/// Reads a page's `Resources`: `Some(items)` for an array (and for `null`, no items), `None`
/// for anything else.
struct ResourcesReader<T> {
    keep: Keep,
    resources: PhantomData<T>,
}

impl<'de, T: Listed> DeserializeSeed<'de> for ResourcesReader<T> {
    type Value = Option<Vec<T>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, T: Listed> Visitor<'de> for ResourcesReader<T> {
    type Value = Option<Vec<T>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of resources")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(Item {
            keep: self.keep,
            resource: PhantomData,
        })? {
            items.extend(item);
        }
        Ok(Some(items))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Some(Vec::new()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Skip::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(None)
    }

    scalars_read_as!(None);
}

/// One item of `Resources`, read with [`Listed::deserialize_item`].
struct Item<T> {
    keep: Keep,
    resource: PhantomData<T>,
}

impl<'de, T: Listed> DeserializeSeed<'de> for Item<T> {
    type Value = Option<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        T::deserialize_item(deserializer, self.keep)
    }
}

/// Everything a server listed for one resource type.
#[derive(Debug, Clone)]
pub struct Listing<T = Value> {
    /// The resources, one per id, in the order first seen.
    pub resources: Vec<T>,
    /// The server's `totalResults`.
    pub total_results: usize,
    /// How many list requests were sent.
    pub pages: usize,
}

impl<T> Listing<T> {
    /// Whether the listing provably holds every resource: as many unique ids as the server
    /// says it has. Pruning and deletion are refused when it does not (SPEC §3.1).
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.resources.len() == self.total_results
    }
}

/// The first page of a listing: enough to know the total, and to decide whether reading the
/// rest is worth it (SPEC §3.1).
#[derive(Debug)]
pub struct FirstPage<T = Value> {
    pub kind: ResourceKind,
    pub resources: Vec<T>,
    pub total_results: usize,
    /// How much of each resource the listing keeps.
    pub keep: Keep,
    excluded: String,
}

impl<T> FirstPage<T> {
    /// How many more list requests reading everything would take.
    #[must_use]
    pub fn remaining_pages(&self) -> usize {
        let returned = self.resources.len();
        if returned == 0 || returned >= self.total_results {
            0
        } else {
            (self.total_results - returned).div_ceil(returned)
        }
    }
}

impl ScimClient {
    /// Lists every resource of `kind`. `page_size` is what to ask for (normally the server's
    /// `maxResults`); `excluded` names attributes to leave out (`excludedAttributes`); `keep`
    /// says how much of each resource to keep.
    pub async fn list_all<T: Listed>(
        &self,
        kind: ResourceKind,
        page_size: Option<usize>,
        excluded: &[&str],
        keep: Keep,
    ) -> Result<Listing<T>, ClientError> {
        let first = self.list_first(kind, page_size, excluded, keep).await?;
        self.list_rest(first).await
    }

    /// Reads the first page of a listing.
    pub async fn list_first<T: Listed>(
        &self,
        kind: ResourceKind,
        page_size: Option<usize>,
        excluded: &[&str],
        keep: Keep,
    ) -> Result<FirstPage<T>, ClientError> {
        let asked = page_size.unwrap_or(DEFAULT_PAGE_SIZE).max(1);
        let mut excluded = excluded.join(",");
        let first = match self.list_page(kind, 1, asked, &excluded, keep).await {
            // `excludedAttributes` is part of the protocol (RFC 7644 §3.4.2.5), but a server
            // may refuse it as a parameter it does not know: list everything instead.
            Err(ClientError::Status {
                status: 400 | 501, ..
            }) if !excluded.is_empty() => {
                excluded.clear();
                self.list_page(kind, 1, asked, &excluded, keep).await?
            }
            page => page?,
        };
        Ok(FirstPage {
            kind,
            total_results: first.total_results.unwrap_or(first.resources.len()),
            resources: first.resources,
            keep,
            excluded,
        })
    }

    /// Reads the pages after `first`, concurrently, and returns the whole listing.
    pub async fn list_rest<T: Listed>(
        &self,
        first: FirstPage<T>,
    ) -> Result<Listing<T>, ClientError> {
        let FirstPage {
            kind,
            resources,
            total_results: total,
            keep,
            excluded,
        } = first;
        let mut pages = 1;
        let mut seen = Collected::default();
        let returned = resources.len();
        if returned == 0 || returned >= total {
            seen.extend(resources);
        } else {
            // The server's real page size is what it returned, whatever was asked for.
            let step = returned;
            let mut tasks = JoinSet::new();
            let starts: Vec<usize> = (1 + step..=total).step_by(step).collect();
            let mut next = starts.into_iter();
            let mut results: Vec<(usize, ListPage<T>)> = Vec::new();
            loop {
                while tasks.len() < CONCURRENT_PAGES {
                    let Some(start) = next.next() else { break };
                    let client = self.clone();
                    let excluded = excluded.clone();
                    tasks.spawn(async move {
                        let page = client.list_page(kind, start, step, &excluded, keep).await;
                        (start, page)
                    });
                }
                let Some(joined) = tasks.join_next().await else {
                    break;
                };
                let (start, page) = joined.expect("a page task does not panic");
                pages += 1;
                results.push((start, page?));
            }
            results.sort_by_key(|(start, _)| *start);
            // Room for everything read, so that neither the index nor the list grows (and
            // rehashes every id) on the way.
            let read: usize = results.iter().map(|(_, p)| p.resources.len()).sum();
            seen.reserve(returned + read);
            seen.extend(resources);
            for (_, page) in results {
                seen.extend(page.resources);
            }
            // Items may have moved between pages while they were read: keep reading past the
            // end until a page comes back empty or everything is accounted for.
            let mut start = total + 1;
            while seen.len() < total && pages < total + 2 {
                let page = self.list_page(kind, start, step, &excluded, keep).await?;
                pages += 1;
                if page.resources.is_empty() {
                    break;
                }
                start += page.resources.len();
                seen.extend(page.resources);
            }
        }
        Ok(Listing {
            resources: seen.into_resources(),
            total_results: total,
            pages,
        })
    }

    async fn list_page<T: Listed>(
        &self,
        kind: ResourceKind,
        start_index: usize,
        count: usize,
        excluded: &str,
        keep: Keep,
    ) -> Result<ListPage<T>, ClientError> {
        let mut query = vec![
            ("startIndex", start_index.to_string()),
            ("count", count.to_string()),
        ];
        if !excluded.is_empty() {
            query.push(("excludedAttributes", excluded.to_owned()));
        }
        let path = kind.endpoint();
        let response = self.send_raw(Method::GET, path, &query, None, None).await?;
        ListPage::parse(&response.bytes, keep).map_err(|e| response.decode_error(e.to_string()))
    }
}

/// Resources keyed by id, first-seen order kept; resources without an id are kept apart so
/// they count against completeness instead of silently merging.
///
/// The index holds positions in `resources`, hashed by the id each resource holds, so no id is
/// copied.
struct Collected<T> {
    index: HashTable<usize>,
    hasher: DefaultHashBuilder,
    resources: Vec<T>,
}

impl<T> Default for Collected<T> {
    fn default() -> Self {
        Collected {
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            resources: Vec::new(),
        }
    }
}

impl<T: Listed> Collected<T> {
    fn len(&self) -> usize {
        self.resources.len()
    }

    fn reserve(&mut self, additional: usize) {
        let Collected {
            index,
            hasher,
            resources,
        } = self;
        resources.reserve_exact(additional);
        index.reserve(additional, |&at| id_hash(hasher, &resources[at]));
    }

    fn extend(&mut self, resources: Vec<T>) {
        let Collected {
            index,
            hasher,
            resources: collected,
        } = self;
        collected.reserve(resources.len());
        for resource in resources {
            let Some(id) = resource.id() else {
                continue;
            };
            let hash = hasher.hash_one(Some(id));
            let found = index
                .find(hash, |&at| collected[at].id() == Some(id))
                .copied();
            if let Some(at) = found {
                collected[at] = resource;
            } else {
                index.insert_unique(hash, collected.len(), |&at| id_hash(hasher, &collected[at]));
                collected.push(resource);
            }
        }
    }

    fn into_resources(self) -> Vec<T> {
        self.resources
    }
}

/// The hash a collected resource is indexed by: its id's.
fn id_hash<T: Listed>(hasher: &DefaultHashBuilder, resource: &T) -> u64 {
    hasher.hash_one(resource.id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: &Value) -> Option<ListPage<Value>> {
        ListPage::parse(body.to_string().as_bytes(), Keep::Managed).ok()
    }

    /// The page `text` as read, or why it is not one.
    fn read(text: &str) -> Result<(Option<usize>, Vec<Value>), String> {
        ListPage::<Value>::parse(text.as_bytes(), Keep::Managed)
            .map(|page| (page.total_results, page.resources))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn an_empty_list_may_omit_resources() {
        let page = parse(&json!({"totalResults": 0})).unwrap();
        assert_eq!(page.total_results, Some(0));
        assert!(page.resources.is_empty());
        assert!(parse(&json!({"detail": "nope"})).is_none());
        assert!(parse(&json!({"Resources": 3})).is_none());
        assert_eq!(read("  \n"), Ok((None, Vec::new())));
        assert!(read("<html>").unwrap_err().starts_with("expected value"));
    }

    #[test]
    fn a_page_is_read_whatever_the_case_of_its_member_names() {
        let page = parse(&json!({
            "totalresults": "3",
            "resources": [{"id": "a"}, 7, {"id": "b"}],
        }))
        .unwrap();
        assert_eq!(page.total_results, Some(3));
        assert_eq!(
            page.resources,
            [json!({"id": "a"}), json!(7), json!({"id": "b"})]
        );
        assert_eq!(
            read(r#"{"Resour\u0063es": [{"i\u0064": "a"}], "total\u0052esults": 1}"#),
            Ok((Some(1), vec![json!({"id": "a"})]))
        );
    }

    #[test]
    fn members_named_twice_are_read_by_the_attribute_rule() {
        let resources = |text: &str| read(text).map(|(_, resources)| resources);
        // The exact spelling wins wherever it is written.
        for text in [
            r#"{"Resources": [{"id": 1}], "resources": [{"id": 2}]}"#,
            r#"{"resources": [{"id": 2}], "Resources": [{"id": 1}]}"#,
            r#"{"resources": 3, "Resources": [{"id": 1}], "resources": [{"id": 3}]}"#,
        ] {
            assert_eq!(resources(text), Ok(vec![json!({"id": 1})]), "{text}");
        }
        // Else the spelling that sorts first, in any order.
        for text in [
            r#"{"resources": [{"id": 1}], "RESOURCES": [{"id": 2}]}"#,
            r#"{"RESOURCES": [{"id": 2}], "resources": [{"id": 1}]}"#,
        ] {
            assert_eq!(resources(text), Ok(vec![json!({"id": 2})]), "{text}");
        }
        // The exact `Resources` decides, even when it is not a list.
        assert!(read(r#"{"Resources": 3, "resources": [], "totalResults": 1}"#).is_err());
        assert_eq!(
            read(r#"{"totalresults": 1, "totalResults": 2, "TotalResults": 3}"#),
            Ok((Some(2), Vec::new()))
        );
    }

    #[test]
    fn total_results_is_a_count_or_nothing() {
        for (total, expected) in [
            ("2", Some(2)),
            ("\"2\"", Some(2)),
            ("-1", None),
            ("2.0", None),
            ("\"two\"", None),
            ("true", None),
            ("null", None),
            ("[1, {\"a\": 2}]", None),
            ("{\"n\": [1]}", None),
        ] {
            let text = format!(r#"{{"totalResults": {total}, "Resources": []}}"#);
            assert_eq!(read(&text), Ok((expected, Vec::new())), "{text}");
        }
        assert_eq!(
            read(r#"{"Resources": null, "totalResults": 2}"#),
            Ok((Some(2), Vec::new()))
        );
        assert_eq!(read(r#"{"Resources": []}"#), Ok((None, Vec::new())));
    }

    #[test]
    fn what_is_not_a_list_response_is_refused_with_the_reason() {
        let not_a_list = "expected a ListResponse with totalResults and Resources";
        for text in [
            "[1, 2]",
            r#""ListResponse""#,
            "{}",
            r#"{"totalResults": null}"#,
            r#"{"Resources": {"id": 1}, "totalResults": 1}"#,
            r#"{"Resources": "x"}"#,
            r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "x": [1.5e3]}"#,
        ] {
            assert_eq!(read(text), Err(not_a_list.to_owned()), "{text}");
        }
        for text in [r#"{"Resources": []} x"#, r#"{"Resources": [}"#, "{"] {
            let error = read(text).unwrap_err();
            assert!(error.contains("line 1"), "{text}: {error}");
        }
    }

    #[test]
    fn a_number_that_overflows_f64_refuses_the_page_wherever_it_is() {
        for text in [
            r#"{"Resources": [], "totalResults": 1e400}"#,
            r#"{"Resources": [{"id": "a", "title": 1e400}]}"#,
            r#"{"Resources": [{"id": "a"}, -1E999]}"#,
            r#"{"Resources": [], "x": {"y": [2e308]}}"#,
        ] {
            let error = read(text).unwrap_err();
            assert!(
                error.starts_with("a number that overflows f64 (number out of range at line 1"),
                "{text}: {error}"
            );
        }
        assert!(read(r#"{"Resources": [{"id": "1e400", "n": 1.7e308}]}"#).is_ok());
    }

    #[test]
    fn duplicates_across_pages_count_once_and_resources_without_id_are_dropped() {
        let mut seen = Collected::<Value>::default();
        seen.extend(vec![json!({"id": "a", "v": 1}), json!({"id": "b"})]);
        seen.extend(vec![
            json!({"id": "a", "v": 2}),
            json!({"userName": "no id"}),
            json!({"id": "c"}),
            json!({"id": "b", "v": 3}),
        ]);
        assert_eq!(seen.len(), 3);
        seen.extend(vec![json!({"id": "a", "v": 4}), json!({"id": 5})]);
        assert_eq!(seen.len(), 3);
        let resources = seen.into_resources();
        assert_eq!(
            resources,
            [
                json!({"id": "a", "v": 4}),
                json!({"id": "b", "v": 3}),
                json!({"id": "c"})
            ],
            "a later copy replaces an earlier one where that was"
        );
        let listing = Listing {
            resources,
            total_results: 4,
            pages: 2,
        };
        assert!(!listing.is_complete());
    }

    #[test]
    fn ids_are_found_again_as_the_index_grows() {
        let page = |from: usize, v: usize| -> Vec<Value> {
            (from..from + 500)
                .map(|i| json!({"id": format!("u{i}"), "v": v}))
                .collect()
        };
        let mut seen = Collected::<Value>::default();
        seen.extend(page(0, 1));
        seen.reserve(5000);
        seen.extend(page(500, 1));
        seen.extend(page(250, 2));
        assert_eq!(seen.len(), 1000);
        let resources = seen.into_resources();
        assert_eq!(resources[0], json!({"id": "u0", "v": 1}));
        assert_eq!(resources[250], json!({"id": "u250", "v": 2}));
        assert_eq!(resources[999], json!({"id": "u999", "v": 1}));
    }
}
