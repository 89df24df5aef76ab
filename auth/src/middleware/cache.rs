//! Conditional requests: remember `ETag` / `Last-Modified`, send `If-None-Match` / `If-Modified-Since`, and answer
//! a 304 from the cache. GitHub does not count a 304 against the primary rate limit when the request is authorised.

use super::StoreError;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// A cached successful response. Serialisable, so a shared store can keep it.
///
/// Stores hand entries out as `Arc<CachedResponse>`: a lookup copies nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedResponse {
    /// The `ETag` validator.
    pub etag: Option<String>,
    /// The `Last-Modified` validator.
    pub last_modified: Option<String>,
    /// Response headers; serialised as a list of `[name, value]` pairs (values that are not visible ASCII are
    /// left out of the serialised form).
    pub headers: StoredHeaders,
    /// The body.
    pub body: Bytes,
}

impl CachedResponse {
    /// Approximate size in bytes, for size-bounded stores.
    pub fn size(&self) -> usize {
        self.body.len() + self.headers.len()
    }
}

/// Response headers as the cache keeps them: one buffer of `name:value` lines. Storing a response copies its
/// headers into it in one pass (a `HeaderMap` clone would allocate for every header name GitHub adds, `x-ratelimit-*`
/// and the like); answering a 304 reads the few headers it lacks back out, sharing the buffer rather than copying.
///
/// Build it from a `HeaderMap` (`StoredHeaders::from(&map)`) or from `(HeaderName, HeaderValue)` pairs (`collect`).
#[derive(Clone, Default)]
pub struct StoredHeaders {
    /// `name:value\n` per header, in the order received. Names are header names (no `:`), and values never hold a
    /// line break, which `HeaderValue` rejects.
    text: Bytes,
    /// The headers parsed, the first time a 304 needs them: an entry answers many 304s.
    parsed: std::sync::OnceLock<HeaderMap>,
}

impl PartialEq for StoredHeaders {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for StoredHeaders {}

impl StoredHeaders {
    /// Each header's name and value, in the order received; a name repeats for each of its values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        memchr::memchr_iter(b'\n', &self.text)
            .scan(0, |start, end| {
                let line = &self.text[*start..end];
                *start = end + 1;
                Some(line)
            })
            .filter_map(|line| {
                let colon = memchr::memchr(b':', line)?;
                let name = std::str::from_utf8(&line[..colon]).ok()?;
                Some((name, &line[colon + 1..]))
            })
    }

    /// The first value of `name` (lower case).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether no header is held.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// `value`, a slice of this buffer, as a header value sharing the buffer.
    fn value(&self, value: &[u8]) -> Option<HeaderValue> {
        HeaderValue::from_maybe_shared(self.text.slice_ref(value)).ok()
    }

    /// The headers as a `HeaderMap`, parsed once and kept.
    pub fn header_map(&self) -> &HeaderMap {
        self.parsed.get_or_init(|| self.to_header_map())
    }

    /// The headers as a new `HeaderMap`.
    pub fn to_header_map(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in self.iter() {
            if let (Ok(n), Some(v)) = (HeaderName::from_bytes(n.as_bytes()), self.value(v)) {
                h.append(n, v);
            }
        }
        h
    }
}

impl From<&HeaderMap> for StoredHeaders {
    fn from(h: &HeaderMap) -> Self {
        StoredHeaders::from_text(header_text(h, |_, _| {}))
    }
}

impl StoredHeaders {
    fn from_text(text: Bytes) -> Self {
        StoredHeaders {
            text,
            parsed: std::sync::OnceLock::new(),
        }
    }
}

/// The text of [`StoredHeaders`] for `h`, each header also shown to `each` on the way.
fn header_text<'h>(
    h: &'h HeaderMap,
    mut each: impl FnMut(&'h HeaderName, &'h HeaderValue),
) -> Bytes {
    // A map's names and values are valid already: copied as they are, in one pass (walking a `HeaderMap` costs
    // about as much as copying what it holds). Sized for GitHub's headers, which average under 64 bytes a line;
    // trimmed to its length after, which also lets the buffer become `Bytes` without another allocation.
    let mut text = Vec::with_capacity(64 * h.len());
    for (n, v) in h {
        each(n, v);
        text.extend_from_slice(n.as_str().as_bytes());
        text.push(b':');
        text.extend_from_slice(v.as_bytes());
        text.push(b'\n');
    }
    text.shrink_to_fit();
    text.into()
}

impl<N: AsRef<str>, V: AsRef<[u8]>> FromIterator<(N, V)> for StoredHeaders {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(pairs: I) -> Self {
        let mut text = Vec::with_capacity(1024);
        for (n, v) in pairs {
            let (n, v) = (n.as_ref(), v.as_ref());
            // Only what a header can hold, so the lines always split back as they were written.
            let name_ok = HeaderName::from_bytes(n.as_bytes()).is_ok_and(|h| h.as_str() == n);
            let value_ok = v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f));
            if !(name_ok && value_ok) {
                continue;
            }
            text.extend_from_slice(n.as_bytes());
            text.push(b':');
            text.extend_from_slice(v);
            text.push(b'\n');
        }
        StoredHeaders {
            text: text.into(),
            parsed: std::sync::OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for StoredHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| (n, String::from_utf8_lossy(v))))
            .finish()
    }
}

/// Headers as `[name, value]` pairs in JSON, the form shared stores have always held.
impl Serialize for StoredHeaders {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let pairs: Vec<(&str, &str)> = self
            .iter()
            .filter_map(|(n, v)| {
                let visible = v.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
                Some((n, std::str::from_utf8(v).ok().filter(|_| visible)?))
            })
            .collect();
        pairs.serialize(s)
    }
}

impl<'de> Deserialize<'de> for StoredHeaders {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<(String, String)>::deserialize(d)?
            .into_iter()
            .collect())
    }
}

/// Where cached responses live. Keys are opaque strings built from method, URL, `Accept` and the caller's identity
/// (a hash of the `Authorization` header, never the header itself).
///
/// The Redis store of the `redis` feature (`github_auth::fleet::RedisCacheStore`) does `GET`/`SET` of the key
/// (prefixed, `github-auth:etag:{key}`) holding the entry as JSON, with `EX` for a time bound and Redis' `maxmemory`
/// eviction for a size bound.
/// Errors are logged by the layer, which then sends the request unconditionally.
#[async_trait::async_trait]
pub trait CacheStore: std::any::Any + Send + Sync + 'static {
    /// The entry for `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Arc<CachedResponse>>, StoreError>;
    /// Stores (or replaces) the entry for `key`.
    async fn put(&self, key: &str, entry: Arc<CachedResponse>) -> Result<(), StoreError>;
}

/// An in-memory least-recently-used [`CacheStore`] bounded by entry count and total bytes.
pub struct MemoryCacheStore {
    inner: Mutex<MemoryInner>,
    max_bytes: usize,
}

struct MemoryInner {
    /// Each entry with its size (key included), counted once when stored.
    map: lru::LruCache<String, (Arc<CachedResponse>, usize), foldhash::fast::RandomState>,
    bytes: usize,
}

impl std::fmt::Debug for MemoryCacheStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = self.inner.lock().unwrap();
        f.debug_struct("MemoryCacheStore")
            .field("entries", &i.map.len())
            .field("bytes", &i.bytes)
            .finish()
    }
}

impl MemoryCacheStore {
    /// At most `max_entries` entries and `max_bytes` bytes (keys, headers and bodies); an entry larger than
    /// `max_bytes` is not kept.
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        let cap = std::num::NonZeroUsize::new(max_entries.max(1)).expect("at least one");
        MemoryCacheStore {
            inner: Mutex::new(MemoryInner {
                map: lru::LruCache::with_hasher(cap, foldhash::fast::RandomState::default()),
                bytes: 0,
            }),
            max_bytes,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().map.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.inner.lock().unwrap().bytes
    }
}

impl Default for MemoryCacheStore {
    /// 1,000 entries, 32 MiB.
    fn default() -> Self {
        Self::new(1000, 32 << 20)
    }
}

impl MemoryCacheStore {
    // The store's work, done at once: the cache calls these directly (see `in_process`), the trait through them.

    fn get_now(&self, key: &str) -> Option<Arc<CachedResponse>> {
        self.inner
            .lock()
            .unwrap()
            .map
            .get(key)
            .map(|(e, _)| e.clone())
    }

    fn put_now(&self, key: &str, entry: Arc<CachedResponse>) {
        let size = key.len() + entry.size();
        let mut guard = self.inner.lock().unwrap();
        let i = &mut *guard;
        if size > self.max_bytes {
            if let Some((_, old)) = i.map.pop(key) {
                i.bytes -= old;
            }
            return;
        }
        // An entry under the same key is replaced where it is held (and made the most recent), rather than removed
        // and inserted anew, which would free and allocate its key and its place in the list.
        if let Some(held) = i.map.get_mut(key) {
            let (_, old) = std::mem::replace(held, (entry, size));
            i.bytes -= old;
        } else if let Some((_, (_, old))) = i.map.push(key.to_string(), (entry, size)) {
            // `push` reports the entry it evicted for the count bound.
            i.bytes -= old;
        }
        i.bytes += size;
        while i.bytes > self.max_bytes {
            match i.map.pop_lru() {
                Some((_, (_, old))) => i.bytes -= old,
                None => break,
            }
        }
    }
}

/// `store` as the in-memory store, whose work completes at once: the cache then calls it without making a future.
fn in_process(store: &dyn CacheStore) -> Option<&MemoryCacheStore> {
    (store as &dyn std::any::Any).downcast_ref()
}

#[async_trait::async_trait]
impl CacheStore for MemoryCacheStore {
    async fn get(&self, key: &str) -> Result<Option<Arc<CachedResponse>>, StoreError> {
        Ok(self.get_now(key))
    }

    async fn put(&self, key: &str, entry: Arc<CachedResponse>) -> Result<(), StoreError> {
        self.put_now(key, entry);
        Ok(())
    }
}

/// Settings of the conditional-request cache.
#[derive(Clone)]
pub struct CacheConfig {
    /// Where entries live (default: [`MemoryCacheStore::default`]).
    pub store: Arc<dyn CacheStore>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            store: Arc::new(MemoryCacheStore::default()),
        }
    }
}

impl std::fmt::Debug for CacheConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheConfig").finish_non_exhaustive()
    }
}

/// The conditional-request cache of a [`super::StackLayer`]: makes repeated GETs conditional, and turns a 304 into
/// the cached 200 (cached headers updated by the 304's, cached body), so the generated decoder sees an ordinary
/// success.
///
/// Requests that already carry a validator or a `Range` are left alone, as are responses marked `no-store`.
pub(crate) struct Cache {
    store: Arc<dyn CacheStore>,
}

/// A request the cache looks after: its key, and what was held for it when it was sent.
pub(crate) struct Lookup {
    key: String,
    cached: Option<Arc<CachedResponse>>,
}

/// The cache key: method, URL, `Accept` and the credential key (computed once per request by the authentication
/// layer; a hash of the `Authorization` header otherwise).
fn cache_key(req: &reqwest::Request, ident: &str) -> String {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (method, url) = (req.method().as_str(), req.url().as_str());
    let mut key = String::with_capacity(method.len() + url.len() + accept.len() + ident.len() + 13);
    for part in [method, " ", url, " accept=", accept, " id=", ident] {
        key.push_str(part);
    }
    key
}

/// A validator of `c` as a header value: the stored header itself when an earlier 304 had them parsed and it holds
/// the same text (shared, not copied), else parsed from the text. (Finding it in the stored lines instead costs
/// more than the copy it saves.)
fn validator(c: &CachedResponse, name: HeaderName, text: Option<&str>) -> Option<HeaderValue> {
    let text = text?;
    match c.headers.parsed.get().and_then(|m| m.get(name)) {
        Some(v) if v.as_bytes() == text.as_bytes() => Some(v.clone()),
        _ => HeaderValue::from_str(text).ok(),
    }
}

impl Cache {
    pub(crate) fn new(config: CacheConfig) -> Self {
        Cache {
            store: config.store,
        }
    }

    /// Looks a GET without validators or `Range` up and, when an entry is held, adds its validators to the request.
    /// `None` for a request the cache leaves alone.
    pub(crate) async fn lookup(&self, req: &mut reqwest::Request, ident: &str) -> Option<Lookup> {
        // A request carries a handful of headers: one walk over them costs less than three hashed lookups.
        if req.method() != Method::GET
            || req.headers().keys().any(|k| {
                k == header::IF_NONE_MATCH || k == header::IF_MODIFIED_SINCE || k == header::RANGE
            })
        {
            return None;
        }
        let key = cache_key(req, ident);
        let cached = match in_process(&*self.store) {
            Some(m) => m.get_now(&key),
            None => match self.store.get(&key).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "cache store unavailable");
                    None
                }
            },
        };
        if let Some(c) = &cached {
            if let Some(v) = validator(c, header::ETAG, c.etag.as_deref()) {
                req.headers_mut().insert(header::IF_NONE_MATCH, v);
            }
            if let Some(v) = validator(c, header::LAST_MODIFIED, c.last_modified.as_deref()) {
                req.headers_mut().insert(header::IF_MODIFIED_SINCE, v);
            }
        }
        Some(Lookup { key, cached })
    }
}

impl Lookup {
    /// The entry a 304 answer stands for, if one was held.
    pub(crate) fn answers(&self, status: StatusCode) -> Option<&Arc<CachedResponse>> {
        self.cached
            .as_ref()
            .filter(|_| status == StatusCode::NOT_MODIFIED)
    }

    /// For a 200: whether it is stored (it has a validator and is not `no-store`), and if so the entry's validators
    /// and headers, in one walk over the headers that also shows each to `each` (the rate limits are read in the
    /// same pass). The body is read only for an answer stored. The text is copied before the walk knows whether the
    /// answer is stored, which costs a 200 without a validator or marked `no-store` a copy of its headers; GitHub
    /// sends an `ETag` with nearly every 200.
    pub(crate) fn scan(
        &self,
        headers: &HeaderMap,
        mut each: impl FnMut(&str, &HeaderValue),
    ) -> Option<Box<EntryHead>> {
        // The first value of each validator, as `HeaderMap::get` gives; `no-store` in any `Cache-Control` line (the
        // lines of a field make one list).
        let (mut etag, mut last_modified, mut refused) = (None, None, false);
        let text = header_text(headers, |n, v| {
            each(n.as_str(), v);
            if n == header::ETAG {
                etag.get_or_insert(v);
            } else if n == header::LAST_MODIFIED {
                last_modified.get_or_insert(v);
            } else if n == header::CACHE_CONTROL {
                refused |= v.to_str().is_ok_and(no_store);
            }
        });
        if refused || (etag.is_none() && last_modified.is_none()) {
            return None;
        }
        let string = |v: Option<&HeaderValue>| v.and_then(|v| v.to_str().ok()).map(str::to_string);
        // Boxed: it travels with the answer through the sending loop, whose future should stay small.
        Some(Box::new(EntryHead {
            etag: string(etag),
            last_modified: string(last_modified),
            headers: text,
        }))
    }

    /// The headers the caller gets for a 304 answered from `cached`.
    pub(crate) fn merge(cached: &CachedResponse, fresh: HeaderMap) -> HeaderMap {
        tracing::debug!("304 Not Modified; answered from the cache");
        merged_headers(cached, fresh)
    }

    /// Stores a 200 answer (see [`Lookup::scan`]). A store in this process keeps it at once; any other is given
    /// the returned future to await (boxed, so a call's future does not carry its size).
    pub(crate) fn store(
        self,
        cache: &Cache,
        head: EntryHead,
        body: Bytes,
    ) -> Option<BoxFuture<'static, ()>> {
        let entry = Arc::new(CachedResponse {
            etag: head.etag,
            last_modified: head.last_modified,
            headers: StoredHeaders::from_text(head.headers),
            body,
        });
        if let Some(m) = in_process(&*cache.store) {
            m.put_now(&self.key, entry);
            return None;
        }
        let store = cache.store.clone();
        Some(Box::pin(async move {
            if let Err(e) = store.put(&self.key, entry).await {
                tracing::warn!(error = %e, "cache store unavailable");
            }
        }))
    }
}

/// Whether a `Cache-Control` value forbids storing.
fn no_store(v: &str) -> bool {
    v.contains("no-store")
}

/// A 200's part of a cache entry, taken from its headers before the body is read ([`Lookup::scan`]).
pub(crate) struct EntryHead {
    etag: Option<String>,
    last_modified: Option<String>,
    /// The text of the entry's [`StoredHeaders`] (kept small: it is moved along with the answer).
    headers: Bytes,
}

/// Headers that describe a body, which a 304 does not carry.
const BODY_HEADERS: [HeaderName; 4] = [
    header::CONTENT_LENGTH,
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::TRANSFER_ENCODING,
];

/// The 304's headers replace the stored ones, except those describing the body, which come from the cache. Built
/// on the 304's own map: GitHub's 304 repeats nearly every header, so only the few it lacks are copied.
fn merged_headers(cached: &CachedResponse, mut fresh: HeaderMap) -> HeaderMap {
    for n in &BODY_HEADERS {
        fresh.remove(n);
    }
    let stored = cached.headers.header_map();
    for n in stored.keys() {
        if fresh.contains_key(n) {
            continue;
        }
        for v in stored.get_all(n) {
            fresh.append(n.clone(), v.clone());
        }
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> CachedResponse {
        CachedResponse {
            etag: Some("\"x\"".into()),
            last_modified: None,
            headers: StoredHeaders::default(),
            body: Bytes::from(vec![b'a'; n]),
        }
    }

    #[test]
    fn one_walk_decides_storing_copies_the_headers_and_shows_each() {
        let lookup = Lookup {
            key: "k".into(),
            cached: None,
        };
        let map = |pairs: &[(&str, &str)]| {
            let mut h = HeaderMap::new();
            for (n, v) in pairs {
                h.append(
                    HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            h
        };
        let h = map(&[
            ("etag", "W/\"a\""),
            ("x-ratelimit-remaining", "41"),
            ("etag", "W/\"b\""),
            ("cache-control", "private, max-age=60"),
            ("cache-control", "must-revalidate"),
            ("last-modified", "Tue, 19 Jul 2022 04:37:49 GMT"),
        ]);
        let mut seen = Vec::new();
        let head = lookup
            .scan(&h, |n, v| seen.push((n.to_string(), v.clone())))
            .expect("a 200 with a validator, no cache-control line saying no-store");
        // Every header, in order, repeats included.
        let all: Vec<_> = h.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
        assert_eq!(seen, all);
        // The first value of each validator, as `HeaderMap::get` gives; the text is what `StoredHeaders::from` makes.
        assert_eq!(head.etag.as_deref(), Some("W/\"a\""));
        assert_eq!(
            head.last_modified.as_deref(),
            Some("Tue, 19 Jul 2022 04:37:49 GMT")
        );
        assert_eq!(
            StoredHeaders::from_text(head.headers.clone()),
            StoredHeaders::from(&h)
        );

        // Not stored: a cache-control line says no-store (any of them), or there is no validator at all.
        let refused = map(&[("cache-control", "no-store"), ("etag", "\"x\"")]);
        assert!(lookup.scan(&refused, |_, _| {}).is_none());
        let refused_later = map(&[
            ("etag", "\"x\""),
            ("cache-control", "private"),
            ("cache-control", "no-store"),
        ]);
        assert!(lookup.scan(&refused_later, |_, _| {}).is_none());
        let bare = map(&[("content-type", "application/json")]);
        assert!(lookup.scan(&bare, |_, _| {}).is_none());
        // Either validator alone is enough.
        let dated = map(&[("last-modified", "Tue, 19 Jul 2022 04:37:49 GMT")]);
        let head = lookup.scan(&dated, |_, _| {}).expect("stored");
        assert_eq!(head.etag, None);
    }

    #[test]
    fn validators_are_the_stored_header_or_parsed_from_the_entry() {
        let h: StoredHeaders = [
            ("etag", "\"first\""),
            ("last-modified", "Tue, 01 Jan 2030 00:00:00 GMT"),
        ]
        .into_iter()
        .collect();
        let c = CachedResponse {
            etag: Some("\"first\"".into()),
            last_modified: Some("Wed, 02 Jan 2030 00:00:00 GMT".into()),
            headers: h,
            body: Bytes::new(),
        };
        for parsed in [false, true] {
            if parsed {
                c.headers.header_map();
            }
            let v = validator(&c, header::ETAG, c.etag.as_deref()).unwrap();
            assert_eq!(v, "\"first\"");
            // The entry's own field wins over a stored header that differs.
            let v = validator(&c, header::LAST_MODIFIED, c.last_modified.as_deref()).unwrap();
            assert_eq!(v, "Wed, 02 Jan 2030 00:00:00 GMT");
            assert_eq!(validator(&c, header::ETAG, None), None);
        }
    }

    #[test]
    fn a_304_keeps_its_own_headers_and_the_cached_body_headers() {
        let mut c = entry(2);
        c.headers = [
            ("content-type", "application/json"),
            ("content-length", "2"),
            ("etag", "\"old\""),
            ("x-only-cached", "1"),
            ("vary", "Accept"),
            ("vary", "Authorization"),
            ("x-ratelimit-remaining", "10"),
        ]
        .into_iter()
        .collect();
        let mut fresh = HeaderMap::new();
        for (n, v) in [
            ("content-length", "0"),
            ("etag", "\"old\""),
            ("x-ratelimit-remaining", "9"),
        ] {
            fresh.append(n, HeaderValue::from_static(v));
        }
        let m = merged_headers(&c, fresh);
        assert_eq!(m["content-type"], "application/json");
        assert_eq!(m["content-length"], "2");
        assert_eq!(m["x-only-cached"], "1");
        assert_eq!(m["x-ratelimit-remaining"], "9");
        assert_eq!(m.get_all("etag").iter().count(), 1);
        let vary: Vec<_> = m.get_all("vary").iter().collect();
        assert_eq!(
            vary,
            ["Accept", "Authorization"],
            "every value of a missing name"
        );
    }

    #[test]
    fn stored_headers_keep_order_repeats_and_bytes() {
        let mut h = HeaderMap::new();
        h.append("x-ratelimit-remaining", HeaderValue::from_static("4999"));
        h.append(header::VARY, HeaderValue::from_static("Accept"));
        h.append(header::VARY, HeaderValue::from_static("Authorization"));
        h.append("x-odd", HeaderValue::from_bytes(b"caf\xc3\xa9\tx").unwrap());
        let s = StoredHeaders::from(&h);
        assert_eq!(s.to_header_map(), h);
        assert_eq!(s.get("vary"), Some(&b"Accept"[..]));
        assert_eq!(s.iter().count(), 4);
        // Pairs a header cannot hold are left out rather than corrupting the lines.
        let bad: StoredHeaders = [("ok", "1"), ("Upper", "2"), ("a:b", "3"), ("nl", "x\ny")]
            .into_iter()
            .collect();
        assert_eq!(bad.iter().collect::<Vec<_>>(), [("ok", &b"1"[..])]);
    }

    #[tokio::test]
    async fn memory_store_respects_bounds() {
        let s = MemoryCacheStore::new(3, 1000);
        for k in ["a", "b", "c", "d"] {
            s.put(k, entry(10).into()).await.unwrap();
        }
        assert_eq!(s.len(), 3);
        assert!(
            s.get("a").await.unwrap().is_none(),
            "least recently used went first"
        );
        assert_eq!(s.bytes(), 3 * 11);
        s.put("big", entry(990).into()).await.unwrap();
        assert!(s.bytes() <= 1000, "{}", s.bytes());
        assert!(s.get("big").await.unwrap().is_some());
        s.put("huge", entry(5000).into()).await.unwrap();
        assert!(s.get("huge").await.unwrap().is_none());
        s.put("big", entry(1).into()).await.unwrap();
        assert!(s.bytes() <= 1000);
        assert_eq!(s.get("big").await.unwrap().unwrap().body.len(), 1);
    }

    #[test]
    fn entry_round_trips_through_serde() {
        let mut e = entry(3);
        e.headers = [
            ("etag", "\"x\""),
            ("vary", "Accept"),
            ("vary", "Authorization"),
        ]
        .into_iter()
        .collect();
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json["headers"],
            serde_json::json!([
                ["etag", "\"x\""],
                ["vary", "Accept"],
                ["vary", "Authorization"]
            ]),
            "the form shared stores hold"
        );
        assert_eq!(
            serde_json::from_str::<CachedResponse>(&serde_json::to_string(&e).unwrap()).unwrap(),
            e
        );
    }
}
