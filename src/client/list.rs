//! Reading a whole resource type with paginated lists (RFC 7644 §3.4.2.4), and proving that the
//! listing is complete before anything relies on it for deletion (SPEC §3.1).
//!
//! The first page tells the total and how many resources the server really returns per page
//! (servers clamp `count` or ignore it); the remaining pages are then fetched concurrently. A
//! directory that changes while it is read can shift items between pages, so the result is
//! checked: the listing is complete only when the unique ids read equal `totalResults`.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::Value;
use tokio::task::JoinSet;

use super::{ClientError, ResourceKind, ScimClient};

/// How many pages are fetched at once after the first.
const CONCURRENT_PAGES: usize = 4;

/// The page size asked for when the server announces no `maxResults`.
const DEFAULT_PAGE_SIZE: usize = 1000;

/// One `ListResponse` (RFC 7644 §3.4.2), read tolerantly.
#[derive(Debug, Default)]
pub(super) struct ListPage {
    pub total_results: Option<usize>,
    pub resources: Vec<Value>,
}

impl ListPage {
    /// `None` when the body is not a `ListResponse` at all. Takes the body by value so that the
    /// resources move out of it: a page of a large directory is not copied.
    pub fn from_json(body: Option<Value>) -> Option<Self> {
        let Some(body) = body else {
            return Some(ListPage::default());
        };
        let Value::Object(mut object) = body else {
            return None;
        };
        let key = |object: &serde_json::Map<String, Value>, name: &str| {
            object
                .keys()
                .find(|k| k.eq_ignore_ascii_case(name))
                .cloned()
        };
        let total_results = key(&object, "totalResults")
            .and_then(|k| object.get(&k))
            .and_then(|v| match v {
                Value::Number(n) => n.as_u64().map(|n| n as usize),
                Value::String(s) => s.parse().ok(),
                _ => None,
            });
        let resources_key = key(&object, "Resources");
        let resources = match resources_key.as_ref().and_then(|k| object.remove(k)) {
            Some(Value::Array(items)) => items,
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return None,
        };
        if total_results.is_none() && resources_key.is_none() {
            return None;
        }
        Some(ListPage {
            total_results,
            resources,
        })
    }
}

/// Everything a server listed for one resource type.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The resources, one per id, in the order first seen.
    pub resources: Vec<Value>,
    /// The server's `totalResults`.
    pub total_results: usize,
    /// How many list requests were sent.
    pub pages: usize,
}

impl Listing {
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
pub struct FirstPage {
    pub kind: ResourceKind,
    pub resources: Vec<Value>,
    pub total_results: usize,
    excluded: String,
}

impl FirstPage {
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
    pub async fn list_all(
        &self,
        kind: ResourceKind,
        page_size: Option<usize>,
        excluded: &[&str],
    ) -> Result<Listing, ClientError> {
        let first = self.list_first(kind, page_size, excluded).await?;
        self.list_rest(first).await
    }

    /// Reads the first page of a listing.
    pub async fn list_first(
        &self,
        kind: ResourceKind,
        page_size: Option<usize>,
        excluded: &[&str],
    ) -> Result<FirstPage, ClientError> {
        let asked = page_size.unwrap_or(DEFAULT_PAGE_SIZE).max(1);
        let excluded = excluded.join(",");
        let first = self.list_page(kind, 1, asked, &excluded).await?;
        Ok(FirstPage {
            kind,
            total_results: first.total_results.unwrap_or(first.resources.len()),
            resources: first.resources,
            excluded,
        })
    }

    /// Reads the pages after `first`, concurrently, and returns the whole listing.
    pub async fn list_rest(&self, first: FirstPage) -> Result<Listing, ClientError> {
        self.list_rest_with(first, |_| {}).await
    }

    /// [`ScimClient::list_rest`], calling `prepare` on every resource as soon as its page is
    /// parsed: a caller that keeps only part of each resource then never holds every page whole
    /// (at 100,000 users, hundreds of MB).
    pub async fn list_rest_with(
        &self,
        first: FirstPage,
        prepare: fn(&mut Value),
    ) -> Result<Listing, ClientError> {
        let FirstPage {
            kind,
            mut resources,
            total_results: total,
            excluded,
        } = first;
        resources.iter_mut().for_each(prepare);
        let mut pages = 1;
        let mut seen = Collected::default();
        let returned = resources.len();
        seen.extend(resources);
        if returned > 0 && returned < total {
            // The server's real page size is what it returned, whatever was asked for.
            let step = returned;
            let mut tasks = JoinSet::new();
            let starts: Vec<usize> = (1 + step..=total).step_by(step).collect();
            let mut next = starts.into_iter();
            let mut results: Vec<(usize, ListPage)> = Vec::new();
            loop {
                while tasks.len() < CONCURRENT_PAGES {
                    let Some(start) = next.next() else { break };
                    let client = self.clone();
                    let excluded = excluded.clone();
                    tasks.spawn(async move {
                        let page = client.list_page(kind, start, step, &excluded).await;
                        let page = page.map(|mut page| {
                            page.resources.iter_mut().for_each(prepare);
                            page
                        });
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
            for (_, page) in results {
                seen.extend(page.resources);
            }
            // Items may have moved between pages while they were read: keep reading past the
            // end until a page comes back empty or everything is accounted for.
            let mut start = total + 1;
            while seen.len() < total && pages < total + 2 {
                let mut page = self.list_page(kind, start, step, &excluded).await?;
                page.resources.iter_mut().for_each(prepare);
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

    async fn list_page(
        &self,
        kind: ResourceKind,
        start_index: usize,
        count: usize,
        excluded: &str,
    ) -> Result<ListPage, ClientError> {
        let mut query = vec![
            ("startIndex", start_index.to_string()),
            ("count", count.to_string()),
        ];
        if !excluded.is_empty() {
            query.push(("excludedAttributes", excluded.to_owned()));
        }
        let path = kind.endpoint();
        let response = self.send(Method::GET, path, &query, None, None).await?;
        ListPage::from_json(response.body).ok_or_else(|| ClientError::Decode {
            request: super::RequestLabel {
                method: Method::GET,
                path: path.to_owned(),
            },
            reason: "expected a ListResponse with totalResults and Resources".to_owned(),
        })
    }
}

/// Resources keyed by id, first-seen order kept; resources without an id are kept apart so
/// they count against completeness instead of silently merging.
#[derive(Default)]
struct Collected {
    index: HashMap<String, usize>,
    resources: Vec<Value>,
}

impl Collected {
    fn len(&self) -> usize {
        self.index.len()
    }

    fn extend(&mut self, resources: Vec<Value>) {
        for resource in resources {
            let Some(id) = resource
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                continue;
            };
            if let Some(&at) = self.index.get(&id) {
                self.resources[at] = resource;
            } else {
                self.index.insert(id, self.resources.len());
                self.resources.push(resource);
            }
        }
    }

    fn into_resources(self) -> Vec<Value> {
        self.resources
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_list_may_omit_resources() {
        let page = ListPage::from_json(Some(json!({"totalResults": 0}))).unwrap();
        assert_eq!(page.total_results, Some(0));
        assert!(page.resources.is_empty());
        assert!(ListPage::from_json(Some(json!({"detail": "nope"}))).is_none());
        assert!(ListPage::from_json(Some(json!({"Resources": 3}))).is_none());
    }

    #[test]
    fn duplicates_across_pages_count_once_and_resources_without_id_are_dropped() {
        let mut seen = Collected::default();
        seen.extend(vec![json!({"id": "a", "v": 1}), json!({"id": "b"})]);
        seen.extend(vec![
            json!({"id": "a", "v": 2}),
            json!({"userName": "no id"}),
        ]);
        assert_eq!(seen.len(), 2);
        let resources = seen.into_resources();
        assert_eq!(resources[0]["v"], 2, "the later copy wins");
        let listing = Listing {
            resources,
            total_results: 3,
            pages: 2,
        };
        assert!(!listing.is_complete());
    }
}
