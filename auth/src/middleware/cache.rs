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
/// Stores hand entries out as `Arc<CachedResponse>`: a lookup copies nothing, and the headers are kept parsed, so
/// neither storing a response nor answering a 304 turns them into strings and back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedResponse {
    /// The `ETag` validator.
    pub etag: Option<String>,
    /// The `Last-Modified` validator.
    pub last_modified: Option<String>,
    /// Response headers; serialised as a list of `[name, value]` pairs (values that are not visible ASCII are
    /// left out of the serialised form).
    #[serde(with = "header_pairs")]
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl CachedResponse {
    /// Approximate size in bytes, for size-bounded stores.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len())
                .sum::<usize>()
    }
}

/// Headers as `[name, value]` pairs in JSON, the form shared stores have always held.
mod header_pairs {
    use http::header::{HeaderMap, HeaderName, HeaderValue};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(h: &HeaderMap, s: S) -> Result<S::Ok, S::Error> {
        let pairs: Vec<(&str, &str)> = h
            .iter()
            .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
            .collect();
        pairs.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HeaderMap, D::Error> {
        let pairs = Vec::<(String, String)>::deserialize(d)?;
        let mut h = HeaderMap::with_capacity(pairs.len());
        for (n, v) in pairs {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(n.as_bytes()),
                HeaderValue::from_str(&v),
            ) {
                h.append(n, v);
            }
        }
        Ok(h)
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
        let mut i = self.inner.lock().unwrap();
        if let Some((_, old)) = i.map.pop(key) {
            i.bytes -= old;
        }
        if size > self.max_bytes {
            return;
        }
        // `push` reports the entry it evicted for the count bound.
        if let Some((_, (_, old))) = i.map.push(key.to_string(), (entry, size)) {
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

/// A validator of `c` as a header value: the stored response's own header when it holds the same text (shared,
/// not copied), else parsed from the text.
fn validator(c: &CachedResponse, name: HeaderName, text: Option<&str>) -> Option<HeaderValue> {
    let text = text?;
    match c.headers.get(&name) {
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
        let h = req.headers();
        if req.method() != Method::GET
            || h.contains_key(header::IF_NONE_MATCH)
            || h.contains_key(header::IF_MODIFIED_SINCE)
            || h.contains_key(header::RANGE)
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

    /// Whether an answer is to be stored (and its body read for that): a 200 with a validator, not `no-store`.
    pub(crate) fn stores(&self, status: StatusCode, headers: &HeaderMap) -> bool {
        status == StatusCode::OK
            && (headers.contains_key(header::ETAG) || headers.contains_key(header::LAST_MODIFIED))
            && !headers
                .get(header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("no-store"))
    }

    /// The headers the caller gets for a 304 answered from `cached`.
    pub(crate) fn merge(cached: &CachedResponse, fresh: HeaderMap) -> HeaderMap {
        tracing::debug!("304 Not Modified; answered from the cache");
        merged_headers(cached, fresh)
    }

    /// Stores a 200 answer (see [`Lookup::stores`]). A store in this process keeps it at once; any other is given
    /// the returned future to await (boxed, so a call's future does not carry its size).
    pub(crate) fn store(
        self,
        cache: &Cache,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Option<BoxFuture<'static, ()>> {
        let entry = Arc::new(CachedResponse {
            etag: header_str(headers, header::ETAG),
            last_modified: header_str(headers, header::LAST_MODIFIED),
            headers: headers.clone(),
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

fn header_str(h: &HeaderMap, n: HeaderName) -> Option<String> {
    h.get(n).and_then(|v| v.to_str().ok()).map(str::to_string)
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
    for n in cached.headers.keys() {
        if fresh.contains_key(n) {
            continue;
        }
        for v in cached.headers.get_all(n) {
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
            headers: HeaderMap::new(),
            body: Bytes::from(vec![b'a'; n]),
        }
    }

    #[test]
    fn a_304_keeps_its_own_headers_and_the_cached_body_headers() {
        let mut c = entry(2);
        for (n, v) in [
            ("content-type", "application/json"),
            ("content-length", "2"),
            ("etag", "\"old\""),
            ("x-only-cached", "1"),
            ("x-ratelimit-remaining", "10"),
        ] {
            c.headers.append(n, HeaderValue::from_static(v));
        }
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
        e.headers
            .append(header::ETAG, HeaderValue::from_static("\"x\""));
        e.headers
            .append(header::VARY, HeaderValue::from_static("Accept"));
        e.headers
            .append(header::VARY, HeaderValue::from_static("Authorization"));
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
