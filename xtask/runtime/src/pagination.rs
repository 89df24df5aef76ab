//! Link-header pagination as a typed `Stream` of items.
//!
//! Every operation that takes `per_page` and returns a list (a top-level array, or an object wrapping one array such
//! as `{total_count, workflow_runs}`) has a `<fn>_stream` method returning [`Pages`]. The stream asks for 100 items a
//! page unless the query says otherwise, follows `Link: rel="next"` (absolute URLs on the API host only), and stops
//! fetching when the consumer stops reading. When the first page's `rel="last"` link gives the page count and the
//! pages are numbered (`page=`), the remaining pages are fetched concurrently (bounded) and still yielded in order.
//! An empty repository's 409 is an empty stream; any other error ends the stream with that error, after every item
//! already received.

pub use crate::runtime::DEFAULT_PAGE_CONCURRENCY as DEFAULT_CONCURRENCY;
use crate::runtime::{Client, Error, Request};
use futures::stream::{self, Stream, StreamExt};
use serde_json::value::RawValue;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// Items as they arrive, still JSON: the paging machinery is one non-generic stream shared by every operation, and
/// only the last step, decoding an item, is per type (which keeps the crate's compile time down).
type RawItems = Pin<Box<dyn Stream<Item = Result<(&'static str, Box<RawValue>), Error>> + Send>>;

/// A stream of the items of every page of a list operation.
pub struct Pages<T> {
    inner: RawItems,
    total_count: Arc<Mutex<Option<u64>>>,
    _item: std::marker::PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("total_count", &self.total_count())
            .finish_non_exhaustive()
    }
}

impl<T> Pages<T> {
    /// `total_count` of a wrapper response (search results, workflow runs…), known once the first page arrived.
    pub fn total_count(&self) -> Option<u64> {
        *self.total_count.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T: serde::de::DeserializeOwned> Stream for Pages<T> {
    type Item = Result<T, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx).map(|item| {
            item.map(|r| {
                r.and_then(|(op, raw)| {
                    crate::runtime::from_json::<T>(raw.get().as_bytes()).map_err(|e| {
                        e.into_error(
                            op,
                            http::StatusCode::OK,
                            bytes::Bytes::copy_from_slice(raw.get().as_bytes()),
                        )
                    })
                })
            })
        })
    }
}

/// One page, split into its items.
struct Page {
    items: Vec<(&'static str, Box<RawValue>)>,
    next: Option<String>,
    last: Option<String>,
}

/// The `rel` URLs of a `Link` header.
pub fn parse_link(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in header.split(',') {
        let mut pieces = part.split(';');
        let Some(url) = pieces.next().map(str::trim) else {
            continue;
        };
        let Some(url) = url.strip_prefix('<').and_then(|u| u.strip_suffix('>')) else {
            continue;
        };
        for p in pieces {
            let p = p.trim();
            if let Some(rel) = p.strip_prefix("rel=") {
                for r in rel.trim_matches('"').split_whitespace() {
                    out.push((r.to_string(), url.to_string()));
                }
            }
        }
    }
    out
}

/// The value of query parameter `name` in `url`.
fn query_value(url: &str, name: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let v = u
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned());
    v
}

fn with_page(url: &str, page: u64) -> Option<String> {
    let mut u = url::Url::parse(url).ok()?;
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "page" {
                page.to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    Some(u.into())
}

fn decode_page(
    op: &'static str,
    items_key: Option<&'static str>,
    raw: crate::runtime::RawResponse,
    total: &Mutex<Option<u64>>,
) -> Result<Option<Page>, Error> {
    let status = raw.status();
    if status.as_u16() == 409 {
        // An empty repository answers 409 to list calls: there is nothing to list.
        return Ok(None);
    }
    let links = raw
        .headers()
        .get(http::header::LINK)
        .and_then(|v| v.to_str().ok())
        .map(parse_link)
        .unwrap_or_default();
    let rel = |r: &str| links.iter().find(|(k, _)| k == r).map(|(_, u)| u.clone());
    let (next, last) = (rel("next"), rel("last"));
    let items = raw.finish(&[], |code, body| {
        if code != 200 {
            return Err(crate::runtime::DecodeFail::Unexpected);
        }
        match items_key {
            None => crate::runtime::decode_json::<Vec<Box<RawValue>>>(body),
            Some(key) => {
                let map: std::collections::HashMap<String, Box<serde_json::value::RawValue>> =
                    crate::runtime::decode_json(body)?;
                if let Some(t) = map
                    .get("total_count")
                    .and_then(|v| serde_json::from_str::<u64>(v.get()).ok())
                {
                    *total.lock().unwrap_or_else(|e| e.into_inner()) = Some(t);
                }
                match map.get(key) {
                    Some(v) => {
                        crate::runtime::decode_json::<Vec<Box<RawValue>>>(v.get().as_bytes())
                    }
                    None => Ok(Vec::new()),
                }
            }
        }
    });
    Ok(Some(Page {
        items: items?.body.into_iter().map(|i| (op, i)).collect(),
        next,
        last,
    }))
}

impl<T: serde::de::DeserializeOwned> Pages<T> {
    #[doc(hidden)]
    pub fn new(client: Client, req: Request, items_key: Option<&'static str>) -> Self {
        let total = Arc::new(Mutex::new(None));
        Pages {
            inner: raw_items(client, req, items_key, total.clone()),
            total_count: total,
            _item: std::marker::PhantomData,
        }
    }

    /// Collects every item, failing on the first error.
    pub async fn collect_all(self) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        let mut s = self;
        while let Some(item) = s.next().await {
            out.push(item?);
        }
        Ok(out)
    }
}

type Item = Result<(&'static str, Box<RawValue>), Error>;

/// The items of every page, in order, as raw JSON.
fn raw_items(
    client: Client,
    req: Request,
    items_key: Option<&'static str>,
    total: Arc<Mutex<Option<u64>>>,
) -> RawItems {
    let info = req.operation();
    let accept = req.accept();
    let op = info.id;
    let total2 = total.clone();
    let concurrency = client.page_concurrency().max(1);
    // Phase 1: the first page; phase 2: either numbered pages fetched concurrently, or `next` links one by one.
    enum State {
        First(Client, Request),
        Next { client: Client, url: Option<String> },
        Done,
    }
    let first = stream::unfold(State::First(client, req), move |state| {
        let total = total2.clone();
        async move {
            match state {
                State::First(client, req) => {
                    let raw = match client.execute(req).await {
                        Ok(r) => r,
                        Err(e) => return Some((stream::iter(vec![Err(e)]).boxed(), State::Done)),
                    };
                    let page = match decode_page(op, items_key, raw, &total) {
                        Ok(Some(p)) => p,
                        Ok(None) => return None,
                        Err(e) => return Some((stream::iter(vec![Err(e)]).boxed(), State::Done)),
                    };
                    // Numbered pages with a known last page: fetch 2..=last concurrently, in order.
                    let numbered = numbered_range(&page, concurrency);
                    let first_items = stream::iter(page.items.into_iter().map(Ok));
                    if let Some((n, l, template)) = numbered {
                        let pages = Numbered {
                            info,
                            accept,
                            items_key,
                            concurrency,
                        };
                        let rest = pages.fetch(client.clone(), total.clone(), n..=l, template);
                        return Some((first_items.chain(rest).boxed(), State::Done));
                    }
                    Some((
                        first_items.boxed(),
                        State::Next {
                            client,
                            url: page.next,
                        },
                    ))
                }
                State::Next {
                    client,
                    url: Some(url),
                } => {
                    let raw = match client.execute_url(info, accept, &url).await {
                        Ok(r) => r,
                        Err(e) => return Some((stream::iter(vec![Err(e)]).boxed(), State::Done)),
                    };
                    match decode_page(op, items_key, raw, &total) {
                        Ok(Some(p)) => Some((
                            stream::iter(p.items.into_iter().map(Ok)).boxed(),
                            State::Next {
                                client,
                                url: p.next,
                            },
                        )),
                        Ok(None) => None,
                        Err(e) => Some((stream::iter(vec![Err(e)]).boxed(), State::Done)),
                    }
                }
                State::Next { url: None, .. } | State::Done => None,
            }
        }
    });
    Box::pin(first.flatten())
}

/// The pages `next..=last` when both links carry a page number and pages are fetched concurrently.
fn numbered_range(page: &Page, concurrency: usize) -> Option<(u64, u64, String)> {
    let number = |link: &Option<String>| {
        link.as_deref()
            .and_then(|l| query_value(l, "page"))
            .and_then(|p| p.parse::<u64>().ok())
    };
    let (n, l) = (number(&page.next)?, number(&page.last)?);
    (concurrency > 1 && n <= l && l - n < 100_000)
        .then(|| (n, l, page.next.clone().unwrap_or_default()))
}

/// How the numbered pages of one stream are fetched.
struct Numbered {
    info: crate::runtime::OperationInfo,
    accept: &'static str,
    items_key: Option<&'static str>,
    concurrency: usize,
}

impl Numbered {
    /// The items of pages `range`, fetched `concurrency` at a time and yielded in page order; the stream ends after
    /// the first error, since items after a failed page would leave a gap.
    fn fetch(
        self,
        client: Client,
        total: Arc<Mutex<Option<u64>>>,
        range: std::ops::RangeInclusive<u64>,
        template: String,
    ) -> impl Stream<Item = Item> + Send + 'static {
        let Numbered {
            info,
            accept,
            items_key,
            concurrency,
        } = self;
        let op = info.id;
        let rest = stream::iter(range)
            .map(move |p| {
                let client = client.clone();
                let total = total.clone();
                let url = with_page(&template, p);
                async move {
                    let url =
                        url.ok_or_else(|| Error::Config("next-page link is not a URL".into()))?;
                    let raw = client.execute_url(info, accept, &url).await?;
                    Ok::<_, Error>(
                        decode_page(op, items_key, raw, &total)?
                            .map(|p| p.items)
                            .unwrap_or_default(),
                    )
                }
            })
            .buffered(concurrency)
            .flat_map(
                |r: Result<Vec<(&'static str, Box<RawValue>)>, Error>| match r {
                    Ok(items) => stream::iter(items.into_iter().map(Ok).collect::<Vec<_>>()),
                    Err(e) => stream::iter(vec![Err(e)]),
                },
            );
        stop_after_error(rest)
    }
}

/// Ends a stream right after its first error.
fn stop_after_error(
    s: impl Stream<Item = Item> + Send + 'static,
) -> impl Stream<Item = Item> + Send + 'static {
    s.scan(false, |failed, item| {
        if *failed {
            return futures::future::ready(None);
        }
        *failed = item.is_err();
        futures::future::ready(Some(item))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_parses() {
        let h = r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last""#;
        let l = parse_link(h);
        assert_eq!(
            l[0],
            (
                "next".into(),
                "https://api.github.com/repositories/1/issues?page=2".into()
            )
        );
        assert_eq!(l[1].0, "last");
        assert_eq!(query_value(&l[1].1, "page").as_deref(), Some("5"));
        assert_eq!(
            with_page(&l[0].1, 4).unwrap(),
            "https://api.github.com/repositories/1/issues?page=4"
        );
    }
}
