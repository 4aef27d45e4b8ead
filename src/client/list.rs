//! Reading a whole resource type with paginated lists (RFC 7644 §3.4.2.4), and proving that the
//! listing is complete before anything relies on it for deletion (README, Plans).
//!
//! The first page tells the total and how many resources the server really returns per page
//! (servers clamp `count` or ignore it); the remaining pages are then fetched concurrently. Every
//! page is checked as it comes: its `startIndex` is the one asked for, its `totalResults` the
//! first page's, it is full unless it is the last, and no id on it was listed before. A listing
//! that fails a check, that would take more requests than the client's limit, or whose unique
//! ids do not add up to `totalResults`, is [`Untrusted`]: what it shows exists, but what it does
//! not show may exist too. Reading stops at the first failed check, so a server that repeats a
//! page or claims a `totalResults` of 10^12 costs a handful of requests, not millions.
//!
//! A server that pages by cursor only (RFC 9865; [`Capabilities::cursor`]) is read the way it
//! pages: the first page asked for with an empty `cursor`, each next one with the `nextCursor`
//! the page before answered, one at a time, until a page answers none. Its pages are checked
//! too: none holds more than `count`, none is empty but points to another, no `nextCursor` comes
//! back twice (a loop), and a `totalResults`, where the server gives one, stays the same and
//! matches what was read.
//!
//! Each page is read once, by `serde_json`, and each resource on it is made by its [`Listed`]
//! type while the page is parsed: no page is held as a tree, and no resource is read twice.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::time::Instant;

use hashbrown::{DefaultHashBuilder, HashTable};
use reqwest::Method;
use scim::attribute::{Pick, get_ci};
use scim::{ResourceKind, message};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::task::JoinSet;

use super::json::{MemberName, Object, ReadObject, Skip, scalars_read_as};
use super::{Capabilities, ClientError, ReadLimits, RequestLabel, ScimClient};

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
/// (the memory target, docs/benchmarks.md), others the whole [`Value`].
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
    /// The `startIndex` the page says it starts at, when it says.
    pub start_index: Option<usize>,
    /// The cursor of the next page (RFC 9865), when the page names one that is not empty.
    pub next_cursor: Option<String>,
    pub resources: Vec<T>,
}

impl<T> Default for ListPage<T> {
    fn default() -> Self {
        ListPage {
            total_results: None,
            start_index: None,
            next_cursor: None,
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
/// made into a `T` on the way, member names matched by [`scim::attribute`]'s rule. `None`
/// when the object is not a list.
struct PageReader<T> {
    keep: Keep,
    resources: PhantomData<T>,
}

impl<'de, T: Listed> ReadObject<'de> for PageReader<T> {
    type Value = Option<ListPage<T>>;

    fn read<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut total = Pick::default();
        let mut start = Pick::default();
        let mut next = Pick::default();
        let mut resources = Pick::default();
        while let Some(MemberName(key)) = map.next_key()? {
            if total.wants(&key, message::TOTAL_RESULTS) {
                let value = map.next_value::<TotalResults>()?.0;
                total.put(key, value);
            } else if start.wants(&key, message::START_INDEX) {
                let value = map.next_value::<TotalResults>()?.0;
                start.put(key, value);
            } else if next.wants(&key, message::NEXT_CURSOR) {
                let value = map.next_value::<Cursor>()?.0;
                next.put(key, value);
            } else if resources.wants(&key, message::RESOURCES) {
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
            start_index: start.into_value().flatten(),
            next_cursor: next.into_value().flatten(),
            resources,
        }))
    }
}

/// A page's `totalResults` or `startIndex`: a number, or a string holding one, as some servers
/// send it;
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

/// A page's `nextCursor`: a string that is not empty; `None` for anything else, which ends the
/// listing as an absent one does.
struct Cursor(Option<String>);

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // One value a page: read whole, it costs nothing worth a visitor of its own. A cursor
        // written as a number is read as the string it would be in a URL.
        Ok(Cursor(match Value::deserialize(deserializer)? {
            Value::String(cursor) if !cursor.is_empty() => Some(cursor),
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
            _ => None,
        }))
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

/// A check a listing must pass before anything is inferred from what it leaves out (README, Plans;
/// RFC 7644 §3.4.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListingCheck {
    /// Each page's `startIndex` is the one asked for.
    StartIndex,
    /// No id is listed twice.
    UniqueIds,
    /// `totalResults` is given, the same on every page, and no page holds more.
    TotalResults,
    /// Every page but the last holds as many resources as the first.
    FullPages,
    /// Reading everything takes at most the client's `listing_requests`
    /// ([`super::ReadLimits`]). A server that claims more pages than that (a `totalResults` of
    /// 10^12 at 1,000 a page, say) is not read past its first page: its listing is untrusted,
    /// and the engine looks up what it needs instead.
    Bounded,
    /// The unique ids read add up to `totalResults`.
    Complete,
    /// No `nextCursor` is answered twice in one listing (RFC 9865): a repeated one would lead
    /// back to a page already read, and round again.
    NewCursors,
}

impl fmt::Display for ListingCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListingCheck::StartIndex => "startIndex echoed as asked",
            ListingCheck::UniqueIds => "no id listed twice",
            ListingCheck::TotalResults => "totalResults consistent",
            ListingCheck::FullPages => "a short page only at the end",
            ListingCheck::Bounded => "readable in a bounded number of requests",
            ListingCheck::Complete => "as many distinct ids as totalResults",
            ListingCheck::NewCursors => "no nextCursor answered twice",
        })
    }
}

/// Why a listing cannot be trusted: the check it failed, and what was seen where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untrusted {
    pub check: ListingCheck,
    /// What the server answered, naming the request: `GET /Users?startIndex=101&count=100
    /// answered startIndex 1`.
    pub detail: String,
}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failed the check \"{}\": {}", self.check, self.detail)
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
    /// The check the listing failed, if any: then it may leave out resources the server holds.
    pub untrusted: Option<Untrusted>,
}

impl<T> Listing<T> {
    /// Whether the listing provably holds every resource: every page passed its checks and the
    /// unique ids add up to `totalResults`. Pruning, deletion and import are refused when it
    /// does not (README, Plans).
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.untrusted.is_none()
    }
}

/// What every page of one listing asks for.
#[derive(Debug, Clone)]
struct ListQuery {
    kind: ResourceKind,
    count: usize,
    /// How much of each resource the listing keeps.
    keep: Keep,
    /// `excludedAttributes`, comma-separated; empty for none.
    excluded: String,
    filter: Option<String>,
    /// The most requests and time the listing may take.
    limits: ReadLimits,
    /// When its first page was asked for.
    started: Instant,
    /// Whether pages are asked for by cursor (RFC 9865) rather than by `startIndex`.
    cursor: bool,
}

impl ListQuery {
    /// The request for the page `at`, as error messages name it.
    fn label(&self, at: At<'_>) -> String {
        let (endpoint, filter, count) = (self.kind.endpoint(), self.filter_param(), self.count);
        match at {
            At::Index(start) => format!("GET {endpoint}?{filter}startIndex={start}&count={count}"),
            At::Cursor(cursor) => format!("GET {endpoint}?{filter}count={count}&cursor={cursor}"),
        }
    }

    /// The first page of the listing.
    fn first(&self) -> At<'static> {
        if self.cursor {
            At::Cursor("")
        } else {
            At::Index(1)
        }
    }

    /// The error of a listing that took longer than its time limit, after `pages` requests.
    fn too_slow(&self, pages: usize) -> ClientError {
        ClientError::ListingTooSlow {
            request: RequestLabel {
                method: Method::GET,
                path: self.kind.endpoint().to_owned(),
            },
            limit: self.limits.listing_time,
            pages,
        }
    }

    fn filter_param(&self) -> String {
        self.filter
            .as_ref()
            .map_or_else(String::new, |f| format!("filter={f}&"))
    }
}

/// Which page of a listing to ask for.
#[derive(Debug, Clone, Copy)]
enum At<'a> {
    /// The page at this 1-based `startIndex`.
    Index(usize),
    /// The page at this cursor; empty for the first (RFC 9865).
    Cursor(&'a str),
}

/// The first page of a listing: enough to know the total, and to decide whether reading the
/// rest is worth it (README, Plans).
#[derive(Debug)]
pub struct FirstPage<T = Value> {
    pub kind: ResourceKind,
    pub resources: Vec<T>,
    pub total_results: usize,
    /// The check the first page failed already, if any: then the rest is not read.
    pub untrusted: Option<Untrusted>,
    /// The `nextCursor` the first page answered, when the listing pages by cursor.
    next_cursor: Option<String>,
    /// The `totalResults` the server gave, if it did; a cursor page may leave it out.
    announced_total: Option<usize>,
    query: ListQuery,
}

impl<T> FirstPage<T> {
    /// How much of each resource the listing keeps.
    #[must_use]
    pub fn keep(&self) -> Keep {
        self.query.keep
    }
}

impl<T> FirstPage<T> {
    /// How many more list requests reading everything would take; none when the first page
    /// failed a check, since the rest could not be trusted either. A cursor listing that
    /// gives no `totalResults` may take as many as the listing's request limit allows, and
    /// says so.
    #[must_use]
    pub fn remaining_pages(&self) -> usize {
        let returned = self.resources.len();
        if self.untrusted.is_some() || returned == 0 {
            return 0;
        }
        if self.query.cursor {
            if self.next_cursor.is_none() {
                return 0;
            }
            return match self.announced_total {
                Some(total) if total > returned => (total - returned).div_ceil(returned),
                _ => self.query.limits.listing_requests.saturating_sub(1).max(1),
            };
        }
        if returned >= self.total_results {
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
        keep: Keep,
    ) -> Result<Listing<T>, ClientError> {
        let first = self.list_first(kind, page_size, excluded, keep).await?;
        self.list_rest(first).await
    }

    /// Lists every resource of `kind` that matches `filter` (RFC 7644 §3.4.2.2), page by page
    /// and checked as [`ScimClient::list_all`] is.
    pub async fn list_matching<T: Listed>(
        &self,
        kind: ResourceKind,
        page_size: Option<usize>,
        filter: &str,
        keep: Keep,
    ) -> Result<Listing<T>, ClientError> {
        let query = ListQuery {
            kind,
            count: page_size.unwrap_or(DEFAULT_PAGE_SIZE).max(1),
            keep,
            excluded: String::new(),
            filter: Some(filter.to_owned()),
            limits: self.read_limits(),
            started: Instant::now(),
            cursor: self.cursor,
        };
        let first = self.list_page(&query, query.first()).await?;
        self.list_rest(FirstPage::of(query, first)).await
    }

    /// Reads the first page of a listing.
    pub async fn list_first<T: Listed>(
        &self,
        kind: ResourceKind,
        page_size: Option<usize>,
        excluded: &[&str],
        keep: Keep,
    ) -> Result<FirstPage<T>, ClientError> {
        let mut query = ListQuery {
            kind,
            count: page_size.unwrap_or(DEFAULT_PAGE_SIZE).max(1),
            keep,
            excluded: excluded.join(","),
            filter: None,
            limits: self.read_limits(),
            started: Instant::now(),
            cursor: self.cursor,
        };
        let first = match self.list_page(&query, query.first()).await {
            // `excludedAttributes` is part of the protocol (RFC 7644 §3.4.2.5), but a server
            // may refuse it as a parameter it does not know: list everything instead.
            Err(ClientError::Status {
                status: 400 | 501, ..
            }) if !query.excluded.is_empty() => {
                query.excluded.clear();
                self.list_page(&query, query.first()).await?
            }
            page => page?,
        };
        Ok(FirstPage::of(query, first))
    }

    /// Reads the pages after `first`, concurrently, checking each, and returns the whole
    /// listing. Reading stops at the first page that fails a check. A listing by cursor is
    /// read one page after another instead ([`ScimClient::list_by_cursor`]).
    pub async fn list_rest<T: Listed>(
        &self,
        first: FirstPage<T>,
    ) -> Result<Listing<T>, ClientError> {
        if first.query.cursor {
            return self.list_by_cursor(first).await;
        }
        let remaining = first.remaining_pages();
        let FirstPage {
            kind,
            resources,
            total_results: total,
            mut untrusted,
            mut query,
            ..
        } = first;
        let mut pages = 1;
        let mut seen = Collected::default();
        // The server's real page size is what it returned, whatever was asked for.
        let step = resources.len();
        if let Some(id) = seen.extend(resources) {
            untrusted.get_or_insert_with(|| listed_twice(&query, 1, &id));
        }
        if remaining > 0 && untrusted.is_none() {
            query.count = step;
            // The starts are made as they are needed, never collected: `remaining` is bounded
            // by the listing's request limit, and each start is at most `total`.
            let mut next = (1..=remaining)
                .filter_map(|k| k.checked_mul(step)?.checked_add(1))
                .peekable();
            let mut tasks = JoinSet::new();
            // Pages that came back ahead of one before them, by start: each page is taken in
            // start order, so that a page that lists nothing new stops the reading at once,
            // and the report does not depend on which page happened to come back first.
            let mut waiting: BTreeMap<usize, ListPage<T>> = BTreeMap::new();
            let mut expected = step + 1;
            loop {
                // At most CONCURRENT_PAGES pages are read ahead of the next one to take, in
                // flight or waiting, so that what is held stays bounded when one is slow.
                let window = expected.saturating_add(CONCURRENT_PAGES * step);
                while untrusted.is_none() && tasks.len() < CONCURRENT_PAGES {
                    let Some(start) = next.next_if(|start| *start < window) else {
                        break;
                    };
                    let client = self.clone();
                    let query = query.clone();
                    tasks.spawn(async move {
                        let page = client.list_page(&query, At::Index(start)).await;
                        (start, page)
                    });
                }
                if untrusted.is_some() {
                    break;
                }
                let time_left = query
                    .limits
                    .listing_time
                    .saturating_sub(query.started.elapsed());
                let joined = match tokio::time::timeout(time_left, tasks.join_next()).await {
                    Ok(Some(joined)) => joined,
                    Ok(None) => break,
                    Err(_) => return Err(query.too_slow(pages)),
                };
                let (start, page) = joined.expect("a page task does not panic");
                pages += 1;
                waiting.insert(start, page?);
                while let Some(page) = waiting.remove(&expected) {
                    let start = expected;
                    expected += step;
                    if let Some(problem) = check_page(&query, start, step, total, &page) {
                        untrusted = Some(problem);
                        break;
                    }
                    if let Some(id) = seen.extend(page.resources) {
                        untrusted = Some(listed_twice(&query, start, &id));
                        break;
                    }
                }
            }
        }
        Ok(seen.into_listing(kind, total, pages, untrusted, ""))
    }

    /// Reads the pages after a cursor listing's first, one at a time: each asked for with the
    /// `nextCursor` of the page before, until a page answers none (RFC 9865). A cursor names
    /// a place only the server knows, so no page can be asked for before the one before it
    /// has come back. Reading stops at the first page that fails a check, and after the
    /// listing's request and time limits.
    async fn list_by_cursor<T: Listed>(
        &self,
        first: FirstPage<T>,
    ) -> Result<Listing<T>, ClientError> {
        let FirstPage {
            kind,
            resources,
            mut untrusted,
            next_cursor,
            announced_total,
            query,
            ..
        } = first;
        let mut pages = 1;
        let mut seen = Collected::default();
        if let Some(id) = seen.extend(resources) {
            untrusted.get_or_insert_with(|| listed_twice_at(&query.label(query.first()), &id));
        }
        // Every cursor answered so far: the first page's (the empty one) and each nextCursor.
        let mut cursors: HashSet<String> = HashSet::from([String::new()]);
        cursors.extend(next_cursor.clone());
        let mut next = next_cursor;
        while untrusted.is_none() {
            let Some(cursor) = next.take() else {
                break;
            };
            let label = query.label(At::Cursor(&cursor));
            if pages >= query.limits.listing_requests {
                untrusted = Some(Untrusted {
                    check: ListingCheck::Bounded,
                    detail: format!(
                        "the server still answered a nextCursor after {pages} requests, as \
                         many as the provider's `limits.listing_requests` allows ({label} \
                         would be next)"
                    ),
                });
                break;
            }
            let time_left = query
                .limits
                .listing_time
                .saturating_sub(query.started.elapsed());
            let page = tokio::time::timeout(time_left, self.list_page(&query, At::Cursor(&cursor)))
                .await
                .map_err(|_| query.too_slow(pages))??;
            pages += 1;
            if let Some(problem) = check_cursor_page(&query, &label, announced_total, &page) {
                untrusted = Some(problem);
                break;
            }
            if let Some(repeated) = page.next_cursor.as_ref().filter(|c| cursors.contains(*c)) {
                untrusted = Some(Untrusted {
                    check: ListingCheck::NewCursors,
                    detail: format!(
                        "{label} answered nextCursor {}, which the server had answered \
                         before: reading on would go round in a loop",
                        Value::String(repeated.clone())
                    ),
                });
                break;
            }
            cursors.extend(page.next_cursor.clone());
            next = page.next_cursor;
            if let Some(id) = seen.extend(page.resources) {
                untrusted = Some(listed_twice_at(&label, &id));
            }
        }
        let total = announced_total.unwrap_or(seen.len());
        Ok(seen.into_listing(
            kind,
            total,
            pages,
            untrusted,
            ", following nextCursor to its end",
        ))
    }

    async fn list_page<T: Listed>(
        &self,
        query: &ListQuery,
        at: At<'_>,
    ) -> Result<ListPage<T>, ClientError> {
        let mut pairs = Vec::with_capacity(4);
        if let Some(filter) = &query.filter {
            pairs.push(("filter", filter.clone()));
        }
        match at {
            At::Index(start_index) => {
                pairs.push((message::START_INDEX, start_index.to_string()));
                pairs.push(("count", query.count.to_string()));
            }
            At::Cursor(cursor) => {
                pairs.push(("count", query.count.to_string()));
                pairs.push((message::CURSOR, cursor.to_owned()));
            }
        }
        if !query.excluded.is_empty() {
            pairs.push(("excludedAttributes", query.excluded.clone()));
        }
        let path = query.kind.endpoint();
        let response = self.send_raw(Method::GET, path, &pairs, None, None).await?;
        ListPage::parse(&response.bytes, query.keep)
            .map_err(|e| response.decode_error(e.to_string()))
    }
}

impl<T> FirstPage<T> {
    /// The first page of `query`'s listing, checked.
    fn of(query: ListQuery, page: ListPage<T>) -> Self {
        let untrusted = if query.cursor {
            check_first_cursor(&query, &page)
        } else {
            check_first(&query, &page)
        };
        FirstPage {
            kind: query.kind,
            total_results: page.total_results.unwrap_or(page.resources.len()),
            resources: page.resources,
            untrusted,
            // Only a cursor listing follows it.
            next_cursor: page.next_cursor.filter(|_| query.cursor),
            announced_total: page.total_results,
            query,
        }
    }
}

/// The check the first page of a listing fails, if any: `startIndex` 1, a `totalResults` when
/// the page is full, and the checks of [`check_total`].
fn check_first<T>(query: &ListQuery, page: &ListPage<T>) -> Option<Untrusted> {
    let label = query.label(At::Index(1));
    let returned = page.resources.len();
    if let Some(start) = page.start_index.filter(|start| *start != 1) {
        return Some(Untrusted {
            check: ListingCheck::StartIndex,
            detail: format!("{label} answered startIndex {start}"),
        });
    }
    let Some(total) = page.total_results else {
        // Without a total, a full page may be followed by others that cannot be counted.
        return (returned >= query.count).then(|| Untrusted {
            check: ListingCheck::TotalResults,
            detail: format!("{label} answered a full page of {returned} without totalResults"),
        });
    };
    check_total(query, &label, returned, total)
}

/// The check the first page of a cursor listing fails, if any: the checks of
/// [`check_cursor_page`], and, when it gives a `totalResults`, those of [`check_total`]. Its
/// `startIndex` is not looked at: RFC 9865 pages have none to echo. Without a `totalResults`,
/// a `nextCursor` is what says more follow.
fn check_first_cursor<T>(query: &ListQuery, page: &ListPage<T>) -> Option<Untrusted> {
    let label = query.label(query.first());
    if let Some(problem) = check_cursor_page(query, &label, None, page) {
        return Some(problem);
    }
    check_total(query, &label, page.resources.len(), page.total_results?)
}

/// The check a first page, asked for as `label`, fails with `returned` resources and a
/// `totalResults` of `total`, if any: the total is at least as large as the page, and readable
/// within the listing's request limit at the page size the server returns.
fn check_total(query: &ListQuery, label: &str, returned: usize, total: usize) -> Option<Untrusted> {
    if returned > total {
        return Some(Untrusted {
            check: ListingCheck::TotalResults,
            detail: format!(
                "{label} listed {returned} resources but answered totalResults {total}"
            ),
        });
    }
    if returned > 0 && total > returned {
        let requests = (total - returned).div_ceil(returned).saturating_add(1);
        let most = query.limits.listing_requests;
        if requests > most {
            return Some(Untrusted {
                check: ListingCheck::Bounded,
                detail: format!(
                    "{label} answered totalResults {total}: at the {returned} per page it \
                     returns, reading them would take {requests} requests, more than {most}, \
                     the provider's `limits.listing_requests`"
                ),
            });
        }
    }
    None
}

/// The check a page of a cursor listing, asked for as `label`, fails, if any: it holds no more
/// than `count` (RFC 7644 §3.4.2.4: a server MUST NOT return more), it is not empty while
/// naming a next page, and its `totalResults`, when it gives one, is the first page's
/// (`total`, when that gave one).
fn check_cursor_page<T>(
    query: &ListQuery,
    label: &str,
    total: Option<usize>,
    page: &ListPage<T>,
) -> Option<Untrusted> {
    let returned = page.resources.len();
    if returned > query.count {
        return Some(Untrusted {
            check: ListingCheck::FullPages,
            detail: format!(
                "{label} answered {returned} resources, more than the {} asked for",
                query.count
            ),
        });
    }
    if returned == 0
        && let Some(next) = &page.next_cursor
    {
        return Some(Untrusted {
            check: ListingCheck::FullPages,
            detail: format!(
                "{label} answered no resources but a nextCursor {}",
                Value::String(next.clone())
            ),
        });
    }
    if let (Some(first), Some(answered)) = (total, page.total_results)
        && first != answered
    {
        return Some(Untrusted {
            check: ListingCheck::TotalResults,
            detail: format!(
                "{label} answered totalResults {answered}, where the first page answered {first}"
            ),
        });
    }
    None
}

/// The check the page at `start` fails, if any, in a listing of `total` read `step` at a time.
/// Repeated ids are found when the pages are merged.
fn check_page<T>(
    query: &ListQuery,
    start: usize,
    step: usize,
    total: usize,
    page: &ListPage<T>,
) -> Option<Untrusted> {
    let label = || query.label(At::Index(start));
    if let Some(answered) = page.start_index.filter(|answered| *answered != start) {
        return Some(Untrusted {
            check: ListingCheck::StartIndex,
            detail: format!("{} answered startIndex {answered}", label()),
        });
    }
    if let Some(answered) = page.total_results.filter(|answered| *answered != total) {
        return Some(Untrusted {
            check: ListingCheck::TotalResults,
            detail: format!(
                "{} answered totalResults {answered}, where the first page answered {total}",
                label()
            ),
        });
    }
    let returned = page.resources.len();
    // What is left from `start` on; `start` is at most `total`.
    let left = total - (start - 1);
    if returned > step.min(left) || (left > step && returned < step) {
        return Some(Untrusted {
            check: ListingCheck::FullPages,
            detail: format!(
                "{} answered {returned} resources where {} were due",
                label(),
                step.min(left)
            ),
        });
    }
    None
}

/// The failed check of a page that lists `id` again.
fn listed_twice(query: &ListQuery, start: usize, id: &str) -> Untrusted {
    listed_twice_at(&query.label(At::Index(start)), id)
}

/// The failed check of the page asked for as `label` that lists `id` again.
fn listed_twice_at(label: &str, id: &str) -> Untrusted {
    Untrusted {
        check: ListingCheck::UniqueIds,
        detail: format!("{label} listed id {} again", Value::String(id.to_owned())),
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

    /// Adds `resources`, each id once: a later copy replaces an earlier one where that was.
    /// Returns the first id that was there already, if any.
    fn extend(&mut self, resources: Vec<T>) -> Option<String> {
        let Collected {
            index,
            hasher,
            resources: collected,
        } = self;
        collected.reserve(resources.len());
        let mut repeated = None;
        for resource in resources {
            let Some(id) = resource.id() else {
                continue;
            };
            let hash = hasher.hash_one(Some(id));
            let found = index
                .find(hash, |&at| collected[at].id() == Some(id))
                .copied();
            if let Some(at) = found {
                if repeated.is_none() {
                    repeated = Some(id.to_owned());
                }
                collected[at] = resource;
            } else {
                index.insert_unique(hash, collected.len(), |&at| id_hash(hasher, &collected[at]));
                collected.push(resource);
            }
        }
        repeated
    }

    /// The listing of `total` `kind`s these resources make, read in `pages` requests. Unless
    /// it failed a check already (`untrusted`), it fails [`ListingCheck::Complete`] when the
    /// distinct ids do not add up to `total`; `how` ends that message, saying how the listing
    /// was read.
    fn into_listing(
        self,
        kind: ResourceKind,
        total: usize,
        pages: usize,
        mut untrusted: Option<Untrusted>,
        how: &str,
    ) -> Listing<T> {
        if untrusted.is_none() && self.len() != total {
            let name = kind.as_str();
            untrusted = Some(Untrusted {
                check: ListingCheck::Complete,
                detail: format!(
                    "the server reported {total} {name}s but listed {} distinct ones{how}",
                    self.len()
                ),
            });
        }
        Listing {
            resources: self.resources,
            total_results: total,
            pages,
            untrusted,
        }
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
    fn a_page_says_where_it_starts() {
        for text in [
            r#"{"totalResults": 3, "StartIndex": 101, "Resources": [{"id": "a"}]}"#,
            r#"{"totalResults": 3, "startindex": "101", "Resources": [{"id": "a"}]}"#,
        ] {
            let page = ListPage::<Value>::parse(text.as_bytes(), Keep::Managed).unwrap();
            assert_eq!(page.start_index, Some(101), "{text}");
        }
        assert_eq!(parse(&json!({"Resources": []})).unwrap().start_index, None);
    }

    #[test]
    fn duplicates_across_pages_count_once_and_resources_without_id_are_dropped() {
        let mut seen = Collected::<Value>::default();
        assert_eq!(
            seen.extend(vec![json!({"id": "a", "v": 1}), json!({"id": "b"})]),
            None
        );
        let repeated = seen.extend(vec![
            json!({"id": "c"}),
            json!({"userName": "no id"}),
            json!({"id": "a", "v": 2}),
            json!({"id": "b", "v": 3}),
        ]);
        assert_eq!(repeated.as_deref(), Some("a"), "the first id seen again");
        assert_eq!(seen.len(), 3);
        seen.extend(vec![json!({"id": "a", "v": 4}), json!({"id": 5})]);
        assert_eq!(seen.len(), 3);
        let resources = seen.resources;
        assert_eq!(
            resources,
            [
                json!({"id": "a", "v": 4}),
                json!({"id": "b", "v": 3}),
                json!({"id": "c"})
            ],
            "a later copy replaces an earlier one where that was"
        );
    }

    fn query() -> ListQuery {
        ListQuery {
            kind: ResourceKind::User,
            count: 100,
            keep: Keep::Managed,
            excluded: "groups".to_owned(),
            filter: None,
            limits: ReadLimits::default(),
            started: Instant::now(),
            cursor: false,
        }
    }

    fn page(
        total: Option<usize>,
        start: Option<usize>,
        ids: std::ops::Range<usize>,
    ) -> ListPage<Value> {
        ListPage {
            total_results: total,
            start_index: start,
            next_cursor: None,
            resources: ids.map(|i| json!({"id": format!("u{i}")})).collect(),
        }
    }

    #[test]
    fn a_first_page_is_checked_before_the_rest_is_read() {
        let first = |page| FirstPage::of(query(), page);
        let fine = first(page(Some(250), Some(1), 0..100));
        assert_eq!(fine.untrusted, None);
        assert_eq!(fine.remaining_pages(), 2);
        let ignored = first(page(Some(250), Some(0), 0..100));
        assert_eq!(
            ignored.untrusted.unwrap().detail,
            "GET /Users?startIndex=1&count=100 answered startIndex 0"
        );
        // Without a total, a full page cannot be known to be the last.
        let no_total = first(page(None, None, 0..100));
        assert_eq!(
            no_total.untrusted.unwrap().check,
            ListingCheck::TotalResults
        );
        assert_eq!(first(page(None, None, 0..40)).untrusted, None);
        let more_than_total = first(page(Some(3), None, 0..5));
        assert_eq!(
            more_than_total.untrusted.unwrap().check,
            ListingCheck::TotalResults
        );
    }

    #[test]
    fn an_absurd_total_is_neither_read_nor_allocated_for() {
        for total in [
            1_000_000_000_000,
            usize::MAX,
            100 * ReadLimits::default().listing_requests + 1,
        ] {
            let first = FirstPage::of(query(), page(Some(total), Some(1), 0..100));
            let untrusted = first.untrusted.as_ref().unwrap();
            assert_eq!(untrusted.check, ListingCheck::Bounded, "{total}");
            assert!(
                untrusted.detail.starts_with(&format!(
                    "GET /Users?startIndex=1&count=100 answered totalResults {total}:"
                )),
                "{untrusted}"
            );
            assert_eq!(first.remaining_pages(), 0);
        }
        let within = FirstPage::of(
            query(),
            page(
                Some(100 * ReadLimits::default().listing_requests),
                None,
                0..100,
            ),
        );
        assert_eq!(within.untrusted, None);
        assert_eq!(
            within.remaining_pages(),
            ReadLimits::default().listing_requests - 1
        );
        // A page of one and the largest total: no arithmetic overflows.
        let one = FirstPage::of(query(), page(Some(usize::MAX), Some(1), 0..1));
        assert_eq!(one.untrusted.unwrap().check, ListingCheck::Bounded);
    }

    #[test]
    fn each_later_page_is_checked_where_it_starts() {
        let q = query();
        let check = |start, page: ListPage<Value>| {
            check_page(&q, start, 100, 250, &page).map(|u| (u.check, u.detail))
        };
        assert_eq!(check(101, page(Some(250), Some(101), 100..200)), None);
        assert_eq!(check(201, page(Some(250), None, 200..250)), None);
        assert_eq!(
            check(101, page(Some(250), Some(1), 0..100)),
            Some((
                ListingCheck::StartIndex,
                "GET /Users?startIndex=101&count=100 answered startIndex 1".to_owned()
            ))
        );
        assert_eq!(
            check(101, page(Some(251), Some(101), 100..200)).unwrap().0,
            ListingCheck::TotalResults
        );
        assert_eq!(
            check(101, page(Some(250), Some(101), 100..150)),
            Some((
                ListingCheck::FullPages,
                "GET /Users?startIndex=101&count=100 answered 50 resources where 100 were due"
                    .to_owned()
            ))
        );
        assert_eq!(
            check(201, page(Some(250), Some(201), 200..300)).unwrap().0,
            ListingCheck::FullPages,
            "the last page holds no more than is left"
        );
        // A short last page leaves the listing incomplete, which the total shows.
        assert_eq!(check(201, page(Some(250), Some(201), 200..240)), None);
    }

    #[test]
    fn a_filtered_listing_names_its_filter() {
        let q = ListQuery {
            kind: ResourceKind::Group,
            count: 10,
            keep: Keep::Managed,
            excluded: String::new(),
            filter: Some("members.value eq \"u1\"".to_owned()),
            ..query()
        };
        assert_eq!(
            q.label(At::Index(11)),
            "GET /Groups?filter=members.value eq \"u1\"&startIndex=11&count=10"
        );
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
        seen.extend(page(500, 1));
        seen.extend(page(250, 2));
        assert_eq!(seen.len(), 1000);
        let resources = seen.resources;
        assert_eq!(resources[0], json!({"id": "u0", "v": 1}));
        assert_eq!(resources[250], json!({"id": "u250", "v": 2}));
        assert_eq!(resources[999], json!({"id": "u999", "v": 1}));
    }

    #[test]
    fn a_page_names_its_next_cursor() {
        let next = |text: &str| {
            ListPage::<Value>::parse(text.as_bytes(), Keep::Managed)
                .unwrap()
                .next_cursor
        };
        assert_eq!(
            next(r#"{"Resources": [], "nextCursor": "VZUTiy"}"#).as_deref(),
            Some("VZUTiy")
        );
        assert_eq!(
            next(r#"{"Resources": [], "NextCursor": 42}"#).as_deref(),
            Some("42")
        );
        for text in [
            r#"{"Resources": []}"#,
            r#"{"Resources": [], "nextCursor": ""}"#,
            r#"{"Resources": [], "nextCursor": null}"#,
            r#"{"Resources": [], "nextCursor": ["a"]}"#,
            r#"{"Resources": [], "nextCursor": {"a": 1}}"#,
        ] {
            assert_eq!(next(text), None, "{text}");
        }
    }

    /// A page of `ids` with a `totalResults` and a `nextCursor` when given.
    fn cursor_page(ids: std::ops::Range<usize>, total: Option<usize>, next: Option<&str>) -> Value {
        let mut body = json!({
            "Resources": ids.map(|i| json!({"id": format!("u{i}")})).collect::<Vec<_>>(),
        });
        if let Some(total) = total {
            body["totalResults"] = json!(total);
        }
        if let Some(next) = next {
            body["nextCursor"] = json!(next);
        }
        body
    }

    type Pages = std::sync::Arc<dyn Fn(&str) -> Option<Value> + Send + Sync>;

    /// A server whose `GET /Users` answers `pages(cursor)`, 400 where that is `None`, and a
    /// client paging it by cursor; the query strings it was sent are kept, in order.
    async fn cursor_server(
        pages: Pages,
    ) -> (ScimClient, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use axum::response::IntoResponse;
        let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = sent.clone();
        let handler = move |uri: axum::http::Uri| {
            let (pages, log) = (pages.clone(), log.clone());
            async move {
                let query = uri.query().unwrap_or_default().to_owned();
                log.lock().unwrap().push(query.clone());
                let cursor = url::form_urlencoded::parse(query.as_bytes())
                    .find(|(name, _)| name == "cursor")
                    .map(|(_, value)| value.into_owned());
                match cursor.and_then(|cursor| pages(&cursor)) {
                    Some(body) => axum::Json(body).into_response(),
                    None => axum::http::StatusCode::BAD_REQUEST.into_response(),
                }
            }
        };
        let app = axum::Router::new().route("/scim/v2/Users", axum::routing::get(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let connection = super::super::Connection {
            base_url: format!("http://{address}/scim/v2"),
            auth_scheme: "Bearer".to_owned(),
            token: secrecy::SecretString::from("t"),
            allow_insecure_http: true,
        };
        let client = ScimClient::new(&connection)
            .unwrap()
            .with_cursor_paging(true);
        (client, sent)
    }

    /// Lists every user of `pages` by cursor, 100 a page.
    async fn list_by_cursor(pages: Pages) -> (Listing<Value>, Vec<String>) {
        let (client, sent) = cursor_server(pages).await;
        let listing = client
            .list_all::<Value>(ResourceKind::User, Some(100), &[], Keep::Managed)
            .await
            .unwrap();
        let sent = sent.lock().unwrap().clone();
        (listing, sent)
    }

    /// 250 users in pages of 100 behind the cursors "", "p2" and "p3", `total` on every page.
    fn three_pages(total: Option<usize>) -> Pages {
        std::sync::Arc::new(move |cursor: &str| match cursor {
            "" => Some(cursor_page(0..100, total, Some("p2"))),
            "p2" => Some(cursor_page(100..200, total, Some("p3"))),
            "p3" => Some(cursor_page(200..250, total, None)),
            _ => None,
        })
    }

    #[tokio::test]
    async fn a_cursor_listing_follows_next_cursor_to_the_end() {
        for total in [Some(250), None] {
            let (listing, sent) = list_by_cursor(three_pages(total)).await;
            assert_eq!(listing.untrusted, None, "{total:?}");
            assert!(listing.is_complete());
            assert_eq!(listing.resources.len(), 250);
            assert_eq!(listing.total_results, 250);
            assert_eq!(listing.pages, 3);
            assert_eq!(
                sent,
                [
                    "count=100&cursor=",
                    "count=100&cursor=p2",
                    "count=100&cursor=p3"
                ],
                "one page after another, never by startIndex"
            );
        }
    }

    #[tokio::test]
    async fn a_repeated_next_cursor_is_a_loop_named_and_not_followed() {
        let pages: Pages = std::sync::Arc::new(|cursor: &str| match cursor {
            "" => Some(cursor_page(0..100, Some(250), Some("p2"))),
            "p2" => Some(cursor_page(100..200, Some(250), Some("p3"))),
            // Back to a page already read.
            "p3" => Some(cursor_page(200..250, Some(250), Some("p2"))),
            _ => None,
        });
        let (listing, sent) = list_by_cursor(pages).await;
        let untrusted = listing.untrusted.unwrap();
        assert_eq!(untrusted.check, ListingCheck::NewCursors);
        assert_eq!(
            untrusted.detail,
            "GET /Users?count=100&cursor=p3 answered nextCursor \"p2\", which the server had \
             answered before: reading on would go round in a loop"
        );
        assert_eq!(sent.len(), 3, "the repeated cursor is not asked for");
        // The first page answering its own cursor again is a loop too.
        let (listing, sent) = list_by_cursor(std::sync::Arc::new(|_: &str| {
            Some(cursor_page(0..100, None, Some("same")))
        }))
        .await;
        assert_eq!(listing.untrusted.unwrap().check, ListingCheck::NewCursors);
        assert_eq!(sent.len(), 2);
    }

    #[tokio::test]
    async fn a_cursor_listing_that_does_not_add_up_to_its_total_is_untrusted() {
        let (listing, _) = list_by_cursor(three_pages(Some(300))).await;
        let untrusted = listing.untrusted.unwrap();
        assert_eq!(untrusted.check, ListingCheck::Complete);
        assert!(untrusted.detail.contains("reported 300"), "{untrusted}");
        // A total that changes from page to page.
        let pages: Pages = std::sync::Arc::new(|cursor: &str| match cursor {
            "" => Some(cursor_page(0..100, Some(250), Some("p2"))),
            "p2" => Some(cursor_page(100..200, Some(260), None)),
            _ => None,
        });
        let (listing, _) = list_by_cursor(pages).await;
        let untrusted = listing.untrusted.unwrap();
        assert_eq!(
            (untrusted.check, untrusted.detail.as_str()),
            (
                ListingCheck::TotalResults,
                "GET /Users?count=100&cursor=p2 answered totalResults 260, where the first \
                 page answered 250"
            )
        );
    }

    #[tokio::test]
    async fn an_over_full_or_empty_cursor_page_is_untrusted() {
        let pages: Pages = std::sync::Arc::new(|cursor: &str| match cursor {
            "" => Some(cursor_page(0..100, None, Some("p2"))),
            "p2" => Some(cursor_page(100..201, None, None)),
            _ => None,
        });
        let (listing, _) = list_by_cursor(pages).await;
        let untrusted = listing.untrusted.unwrap();
        assert_eq!(
            (untrusted.check, untrusted.detail.as_str()),
            (
                ListingCheck::FullPages,
                "GET /Users?count=100&cursor=p2 answered 101 resources, more than the 100 \
                 asked for"
            )
        );
        let pages: Pages = std::sync::Arc::new(|cursor: &str| match cursor {
            "" => Some(cursor_page(0..0, None, Some("p2"))),
            _ => Some(cursor_page(0..10, None, None)),
        });
        let (listing, sent) = list_by_cursor(pages).await;
        let untrusted = listing.untrusted.unwrap();
        assert_eq!(
            (untrusted.check, untrusted.detail.as_str()),
            (
                ListingCheck::FullPages,
                "GET /Users?count=100&cursor= answered no resources but a nextCursor \"p2\""
            )
        );
        assert_eq!(sent.len(), 1, "the first page decides");
    }

    #[tokio::test]
    async fn an_endless_cursor_listing_stops_at_the_request_limit() {
        let pages: Pages = std::sync::Arc::new(|cursor: &str| {
            let n: usize = cursor
                .strip_prefix('c')
                .map_or(Some(0), |n| n.parse().ok())?;
            Some(cursor_page(
                n * 10..n * 10 + 10,
                None,
                Some(&format!("c{}", n + 1)),
            ))
        });
        let (client, sent) = cursor_server(pages).await;
        let client = client.with_read_limits(ReadLimits {
            listing_requests: 5,
            ..ReadLimits::default()
        });
        let listing = client
            .list_all::<Value>(ResourceKind::User, Some(10), &[], Keep::Managed)
            .await
            .unwrap();
        let untrusted = listing.untrusted.unwrap();
        assert_eq!(untrusted.check, ListingCheck::Bounded, "{untrusted}");
        assert_eq!((listing.pages, sent.lock().unwrap().len()), (5, 5));
        assert_eq!(listing.resources.len(), 50);
    }

    #[test]
    fn a_cursor_first_page_says_how_many_requests_may_remain() {
        let cursor_query = ListQuery {
            cursor: true,
            ..query()
        };
        let first = |total, ids, next: Option<&str>| {
            let mut page = page(total, None, ids);
            page.next_cursor = next.map(str::to_owned);
            FirstPage::of(cursor_query.clone(), page)
        };
        assert_eq!(first(Some(250), 0..100, Some("n")).remaining_pages(), 2);
        assert_eq!(first(Some(100), 0..100, None).remaining_pages(), 0);
        assert_eq!(first(None, 0..40, None).remaining_pages(), 0);
        // Without a total, the most the listing may take.
        assert_eq!(
            first(None, 0..100, Some("n")).remaining_pages(),
            ReadLimits::default().listing_requests - 1
        );
        // A full page without a total is no reason to distrust a cursor listing.
        assert_eq!(first(None, 0..100, Some("n")).untrusted, None);
        let absurd = first(Some(1_000_000_000_000), 0..100, Some("n"));
        assert_eq!(absurd.untrusted.unwrap().check, ListingCheck::Bounded);
        // An index listing never follows a nextCursor it is sent.
        let mut index_page = page(Some(250), Some(1), 0..100);
        index_page.next_cursor = Some("n".to_owned());
        assert_eq!(FirstPage::of(query(), index_page).next_cursor, None);
    }
}
