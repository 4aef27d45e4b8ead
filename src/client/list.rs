//! Reading a whole resource type with paginated lists (RFC 7644 §3.4.2.4), and proving that the
//! listing is complete before anything relies on it for deletion (SPEC §3.1).
//!
//! The first page tells the total and how many resources the server really returns per page
//! (servers clamp `count` or ignore it); the remaining pages are then fetched concurrently. A
//! directory that changes while it is read can shift items between pages, so the result is
//! checked: the listing is complete only when the unique ids read equal `totalResults`.

use std::hash::BuildHasher;
use std::marker::PhantomData;

use hashbrown::{DefaultHashBuilder, HashTable};
use reqwest::Method;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::task::JoinSet;

use super::raw::{self, IfObject, MemberName, Members, ObjectReader, Pick, scalars_read_as_none};
use super::{ClientError, ResourceKind, ScimClient};

/// How many pages are fetched at once after the first.
const CONCURRENT_PAGES: usize = 4;

/// The page size asked for when the server announces no `maxResults`.
const DEFAULT_PAGE_SIZE: usize = 1000;

/// A resource as a listing keeps it, made from the resource's JSON text as the page holds it.
///
/// Each caller keeps what it needs: the engine's live state keeps a compact form of each
/// resource (SPEC §8), others the whole [`Value`].
pub trait Listed: Sized + Send + 'static {
    /// The resource read from `json`; `None` when it is not one (not an object, say).
    fn from_json(json: &RawValue) -> Option<Self>;
    /// Reads one item of a page's `Resources` while the page is parsed; `Ok(None)` when it is
    /// not a resource. `scratch` is a buffer the item may use while it is read.
    ///
    /// It must answer as [`Listed::from_json`] does for the item's text, or fail: a page that
    /// fails is read again item by item with `from_json`. By default it is `from_json`.
    fn deserialize_item<'de, D: Deserializer<'de>>(
        deserializer: D,
        _scratch: &mut String,
    ) -> Result<Option<Self>, D::Error> {
        let json = <&RawValue>::deserialize(deserializer)?;
        Ok(Self::from_json(json))
    }
    /// The server's id, `None` when the resource has none.
    fn id(&self) -> Option<&str>;
}

impl Listed for Value {
    fn from_json(json: &RawValue) -> Option<Self> {
        serde_json::from_str(json.get()).ok()
    }

    fn id(&self) -> Option<&str> {
        self.get("id").and_then(Value::as_str)
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

impl<T: Listed> ListPage<T> {
    /// `None` when the body is not a `ListResponse` at all; an empty body is an empty list.
    /// Each resource is made while the page is parsed, so a page is never held as a tree.
    pub fn parse(body: &[u8]) -> Option<Self> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Some(ListPage::default());
        }
        let text = std::str::from_utf8(body).ok()?;
        Self::parse_one_pass(text).unwrap_or_else(|_| Self::parse_members(text))
    }

    /// [`ListPage::parse`] in one pass over the text. It fails where a value it decodes is
    /// one it cannot represent (a number too large for a float, say), which the member-wise
    /// reading may tolerate; then the page is read that way instead.
    fn parse_one_pass(text: &str) -> Result<Option<Self>, serde_json::Error> {
        let mut scratch = String::new();
        let mut parser = serde_json::Deserializer::from_str(text);
        let page = IfObject(PageReader {
            scratch: &mut scratch,
            resources: PhantomData,
        })
        .deserialize(&mut parser)?;
        parser.end()?;
        Ok(page.flatten())
    }

    /// [`ListPage::parse`] member by member, each resource from its own text: slower, but as
    /// tolerant of odd values as [`Listed::from_json`] is.
    fn parse_members(text: &str) -> Option<Self> {
        let members = Members::parse(text)?;
        let total_results = members.get("totalResults").and_then(|raw| {
            serde_json::from_str::<TotalResults>(raw.get())
                .ok()
                .and_then(|total| total.0)
        });
        let resources_member = members.get("Resources");
        let resources = match resources_member {
            None => Vec::new(),
            Some(raw) if raw.get() == "null" => Vec::new(),
            Some(raw) => {
                let mut resources = Vec::new();
                for item in raw::items(raw.get())? {
                    match T::from_json(item) {
                        Some(resource) => resources.push(resource),
                        // Not a resource is skipped; a value no tree can hold refuses the page.
                        None if serde_json::from_str::<Value>(item.get()).is_err() => return None,
                        None => {}
                    }
                }
                resources
            }
        };
        if total_results.is_none() && resources_member.is_none() {
            return None;
        }
        Some(ListPage {
            total_results,
            resources,
        })
    }
}

/// A page as one reading answers it.
#[cfg(test)]
pub(crate) type Parsed<T> = Option<ListPage<T>>;

/// A page read both ways, one pass and member by member, to check that they agree.
#[cfg(test)]
pub(crate) fn parse_both_ways<T: Listed>(
    text: &str,
) -> (Result<Parsed<T>, serde_json::Error>, Parsed<T>) {
    (
        ListPage::parse_one_pass(text),
        ListPage::parse_members(text),
    )
}

/// Reads a `ListResponse` object as it is parsed: `totalResults`, and each item of `Resources`
/// made into a `T` on the way. `None` when the page is not a list.
struct PageReader<'s, T> {
    scratch: &'s mut String,
    resources: PhantomData<T>,
}

impl<'de, T: Listed> ObjectReader<'de> for PageReader<'_, T> {
    type Value = Option<ListPage<T>>;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut total = Pick::default();
        let mut resources = Pick::default();
        while let Some(MemberName(key)) = map.next_key()? {
            if key.eq_ignore_ascii_case("totalResults") {
                let value = map.next_value::<TotalResults>()?.0;
                total.offer(&key, "totalResults", || value);
            } else if key.eq_ignore_ascii_case("Resources") {
                let value = map.next_value_seed(ResourcesReader {
                    scratch: &mut *self.scratch,
                    resources: PhantomData,
                })?;
                resources.offer(&key, "Resources", || value);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        let total_results = total.into_inner().flatten();
        let resources = match resources.into_inner() {
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
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
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
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(TotalResults(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(TotalResults(None))
            }
        }
        deserializer.deserialize_any(TotalVisitor)
    }
}

/// Reads a page's `Resources`: `Some(items)` for an array (and for `null`, no items), `None`
/// for anything else.
struct ResourcesReader<'s, T> {
    scratch: &'s mut String,
    resources: PhantomData<T>,
}

impl<'de, T: Listed> DeserializeSeed<'de> for ResourcesReader<'_, T> {
    type Value = Option<Vec<T>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, T: Listed> Visitor<'de> for ResourcesReader<'_, T> {
    type Value = Option<Vec<T>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of resources")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Item {
            scratch: &mut *self.scratch,
            resource: PhantomData,
        })? {
            items.extend(item);
        }
        Ok(Some(items))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Some(Vec::new()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    scalars_read_as_none!();
}

/// One item of `Resources`, read with [`Listed::deserialize_item`].
struct Item<'s, T> {
    scratch: &'s mut String,
    resource: PhantomData<T>,
}

impl<'de, T: Listed> DeserializeSeed<'de> for Item<'_, T> {
    type Value = Option<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        T::deserialize_item(deserializer, self.scratch)
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
    /// `maxResults`); `excluded` names attributes to leave out (`excludedAttributes`).
    pub async fn list_all<T: Listed>(
        &self,
        kind: ResourceKind,
        page_size: Option<usize>,
        excluded: &[&str],
    ) -> Result<Listing<T>, ClientError> {
        let first = self.list_first(kind, page_size, excluded).await?;
        self.list_rest(first).await
    }

    /// Reads the first page of a listing.
    pub async fn list_first<T: Listed>(
        &self,
        kind: ResourceKind,
        page_size: Option<usize>,
        excluded: &[&str],
    ) -> Result<FirstPage<T>, ClientError> {
        let asked = page_size.unwrap_or(DEFAULT_PAGE_SIZE).max(1);
        let mut excluded = excluded.join(",");
        let first = match self.list_page(kind, 1, asked, &excluded).await {
            // `excludedAttributes` is part of the protocol (RFC 7644 §3.4.2.5), but a server
            // may refuse it as a parameter it does not know: list everything instead.
            Err(ClientError::Status {
                status: 400 | 501, ..
            }) if !excluded.is_empty() => {
                excluded.clear();
                self.list_page(kind, 1, asked, &excluded).await?
            }
            page => page?,
        };
        Ok(FirstPage {
            kind,
            total_results: first.total_results.unwrap_or(first.resources.len()),
            resources: first.resources,
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
                        let page = client.list_page(kind, start, step, &excluded).await;
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
                let page = self.list_page(kind, start, step, &excluded).await?;
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
        ListPage::parse(&response.bytes).ok_or_else(|| {
            if let Err(e) = serde_json::from_slice::<Value>(&response.bytes) {
                return response.decode_error(e.to_string());
            }
            response
                .decode_error("expected a ListResponse with totalResults and Resources".to_owned())
        })
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
        ListPage::parse(body.to_string().as_bytes())
    }

    #[test]
    fn an_empty_list_may_omit_resources() {
        let page = parse(&json!({"totalResults": 0})).unwrap();
        assert_eq!(page.total_results, Some(0));
        assert!(page.resources.is_empty());
        assert!(parse(&json!({"detail": "nope"})).is_none());
        assert!(parse(&json!({"Resources": 3})).is_none());
        assert!(
            ListPage::<Value>::parse(b"  ")
                .unwrap()
                .resources
                .is_empty()
        );
        assert!(ListPage::<Value>::parse(b"<html>").is_none());
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
    }

    /// Reads `text` both ways, checks that they agree and that the one-pass reading did not
    /// fail unless `fails_one_pass`, and returns the page.
    fn agreed(text: &str, fails_one_pass: bool) -> Option<ListPage<Value>> {
        let (one_pass, members) = parse_both_ways::<Value>(text);
        assert_eq!(one_pass.is_err(), fails_one_pass, "{text}: {one_pass:?}");
        let members = members.map(|p| (p.total_results, p.resources));
        if let Ok(one_pass) = one_pass {
            let one_pass = one_pass.map(|p| (p.total_results, p.resources));
            assert_eq!(one_pass, members, "{text}");
        }
        let page = ListPage::<Value>::parse(text.as_bytes());
        assert_eq!(
            page.as_ref()
                .map(|p| (p.total_results, p.resources.clone())),
            members
        );
        page
    }

    #[test]
    fn one_pass_reads_a_page_as_member_by_member_reading_does() {
        for text in [
            r#"{"totalResults": 2, "Resources": [{"id": "a"}, {"id": "b"}]}"#,
            r#"{"TOTALRESULTS": "2", "resources": [{"id": "a"}, 7, "x", null, [1], {"id": "b"}]}"#,
            r#"{"totalResults": 2}"#,
            r#"{"totalResults": 2, "Resources": null}"#,
            r#"{"Resources": []}"#,
            r#"{"totalResults": -1, "Resources": []}"#,
            r#"{"totalResults": 2.0, "Resources": []}"#,
            r#"{"totalResults": "two", "Resources": []}"#,
            r#"{"totalResults": {"n": [1]}, "Resources": []}"#,
            r#"{"totalResults": null}"#,
            r#"{"Resour\u0063es": [{"i\u0064": "a"}], "total\u0052esults": 1}"#,
            r#"{"Resources": [{"id": 1}], "resources": [{"id": 2}]}"#,
            r#"{"resources": [{"id": 1}], "RESOURCES": [{"id": 2}]}"#,
            r#"{"resources": 3, "Resources": [{"id": 2}], "resources": [{"id": 3}]}"#,
            r#"{"Resources": [{"id": 2}], "resources": 3}"#,
            r#"{"Resources": 3, "totalResults": 1}"#,
            r#"{"Resources": {"id": 1}, "totalResults": 1}"#,
            r#"{"Resources": "x"}"#,
            r#"{"totalresults": 1, "totalResults": 2, "TotalResults": 3}"#,
            r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "x": {"y": [true, false, null, 1.5e3]}}"#,
            "[1, 2]",
            r#""ListResponse""#,
            "{\"Resources\": [] } \n",
        ] {
            agreed(text, false);
        }
        for text in [
            r#"{"Resources": [], "totalResults": 1e400}"#,
            r#"{"Resources": []} x"#,
            r#"{"Resources": [}"#,
        ] {
            agreed(text, true);
        }
        // A value the one-pass reading refuses but member-wise reading tolerates.
        let page = agreed(
            r#"{"totalResults": 1e400, "Resources": [{"id": "a"}]}"#,
            true,
        );
        let page = page.unwrap();
        assert_eq!(page.total_results, None);
        assert_eq!(page.resources, [json!({"id": "a"})]);
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
