//! Receiving webhooks: verify a delivery's `X-Hub-Signature-256`, decode it into the typed
//! [`WebhookEvent`], and notice redeliveries.
//!
//! GitHub signs each delivery with HMAC-SHA256 of the raw body under the webhook's secret and sends the hex digest as
//! `X-Hub-Signature-256: sha256=<64 hex digits>`. [`WebhookSecrets`] holds one or more secrets (several while a secret
//! is being rotated) and compares in constant time. [`WebhookSecrets::receive`] is the one entry point from the
//! headers and raw body to a verified, decoded [`Delivery`]; nothing is decoded before the signature is checked.
//!
//! ```no_run
//! use github_auth::webhooks::{Redeliveries, WebhookSecrets};
//! # fn handle(headers: &http::HeaderMap, body: &[u8]) -> Result<(), github_auth::webhooks::WebhookError> {
//! let secrets = WebhookSecrets::new("current-secret").with("previous-secret");
//! let seen = Redeliveries::new(10_000);
//! let delivery = secrets.receive(headers, body)?;
//! if seen.first_time(&delivery.id) {
//!     println!("{} {:?}", delivery.event.event(), delivery.event.action());
//! }
//! # Ok(()) }
//! ```

use github_rest::webhooks::WebhookEvent;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use lru::LruCache;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use std::num::NonZeroUsize;
use std::sync::Mutex;

/// The signature header: `sha256=` and the hex HMAC-SHA256 of the body.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// The event name (`issues`, `push`…).
pub const EVENT_HEADER: &str = "x-github-event";
/// The delivery's GUID; a redelivery reuses it.
pub const DELIVERY_HEADER: &str = "x-github-delivery";
/// The id of the webhook that sent the delivery.
pub const HOOK_ID_HEADER: &str = "x-github-hook-id";
/// What the webhook is installed on: `repository`, `organization`, `integration` (an App)…
pub const TARGET_TYPE_HEADER: &str = "x-github-hook-installation-target-type";
/// The id of that target.
pub const TARGET_ID_HEADER: &str = "x-github-hook-installation-target-id";

const PREFIX: &str = "sha256=";

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// A header the delivery needs is absent.
    #[error("the `{0}` header is missing")]
    MissingHeader(&'static str),
    /// A header is present but not what GitHub sends.
    #[error("the `{header}` header is malformed: {reason}")]
    MalformedHeader {
        header: &'static str,
        reason: MalformedSignature,
    },
    /// The signature is well formed but matches the body under none of the secrets.
    #[error("the signature does not match the body under any configured secret")]
    BadSignature,
    /// The delivery is authentic but its payload does not decode as its event and action say.
    #[error("the `{event}` payload does not decode")]
    Decode {
        event: String,
        #[source]
        source: serde_json::Error,
    },
}

/// What is wrong with a header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedSignature {
    #[error("not visible ASCII")]
    NotText,
    #[error("it does not start with `sha256=`")]
    MissingPrefix,
    #[error("the digest has {0} characters, not 64")]
    WrongLength(usize),
    #[error("the digest is not hexadecimal")]
    NotHex,
    #[error("not a number")]
    NotANumber,
}

impl MalformedSignature {
    fn at(self, header: &'static str) -> WebhookError {
        WebhookError::MalformedHeader {
            header,
            reason: self,
        }
    }
}

/// A parsed `X-Hub-Signature-256` value: the 32-byte digest.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; 32]);

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature(sha256={})", hex::encode(self.0))
    }
}

impl Signature {
    /// Parses `sha256=<64 hex digits>` (either case, as GitHub documents lower case but hex is hex).
    pub fn parse(value: &str) -> Result<Self, MalformedSignature> {
        let hex_digits = value
            .strip_prefix(PREFIX)
            .ok_or(MalformedSignature::MissingPrefix)?;
        if hex_digits.len() != 64 {
            return Err(MalformedSignature::WrongLength(hex_digits.len()));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut out).map_err(|_| MalformedSignature::NotHex)?;
        Ok(Signature(out))
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The secrets a webhook may be signed with: the current one, and during a rotation the previous ones.
/// `Debug` does not show them.
#[derive(Debug, Clone)]
pub struct WebhookSecrets {
    secrets: Vec<SecretString>,
}

impl WebhookSecrets {
    /// One secret.
    pub fn new(secret: impl Into<SecretString>) -> Self {
        WebhookSecrets {
            secrets: vec![secret.into()],
        }
    }

    /// Also accepts `secret` (a secret being rotated in or out).
    pub fn with(mut self, secret: impl Into<SecretString>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// Checks `signature` (the header value) against `body`. Returns the index of the secret that signed it, so a
    /// caller can tell when the old secret is no longer in use.
    pub fn verify(&self, signature: &str, body: &[u8]) -> Result<usize, WebhookError> {
        let sig = Signature::parse(signature).map_err(|e| e.at(SIGNATURE_HEADER))?;
        self.verify_signature(&sig, body)
    }

    /// Checks a parsed signature against `body`; each comparison is constant-time (`hmac`'s `verify_slice`).
    pub fn verify_signature(&self, sig: &Signature, body: &[u8]) -> Result<usize, WebhookError> {
        let mut matched = None;
        // Every secret is tried, so the time taken does not say which one matched.
        for (i, secret) in self.secrets.iter().enumerate() {
            if mac(secret, body).verify_slice(&sig.0).is_ok() && matched.is_none() {
                matched = Some(i);
            }
        }
        matched.ok_or(WebhookError::BadSignature)
    }

    /// Verifies and decodes a delivery from its headers and raw body: the signature first (nothing is parsed before
    /// it is checked), then the event and delivery id, then the payload.
    pub fn receive(&self, headers: &HeaderMap, body: &[u8]) -> Result<Delivery, WebhookError> {
        let signature = header(headers, SIGNATURE_HEADER)?
            .ok_or(WebhookError::MissingHeader(SIGNATURE_HEADER))?;
        let secret_index = self.verify(signature, body)?;
        let event_name =
            header(headers, EVENT_HEADER)?.ok_or(WebhookError::MissingHeader(EVENT_HEADER))?;
        let id = header(headers, DELIVERY_HEADER)?
            .ok_or(WebhookError::MissingHeader(DELIVERY_HEADER))?;
        let hook_id = number(headers, HOOK_ID_HEADER)?;
        let target_id = number(headers, TARGET_ID_HEADER)?;
        let target_type = header(headers, TARGET_TYPE_HEADER)?.map(str::to_string);
        let event =
            WebhookEvent::parse(event_name, body).map_err(|source| WebhookError::Decode {
                event: event_name.to_string(),
                source,
            })?;
        Ok(Delivery {
            id: id.to_string(),
            event_name: event_name.to_string(),
            hook_id,
            target_type,
            target_id,
            installation_id: installation_id(body),
            secret_index,
            event,
        })
    }
}

fn mac(secret: &SecretString, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    mac
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under `secret`: the `X-Hub-Signature-256` value GitHub would send
/// (for tests and for forwarding deliveries).
pub fn sign(secret: &SecretString, body: &[u8]) -> String {
    format!(
        "{PREFIX}{}",
        hex::encode(mac(secret, body).finalize().into_bytes())
    )
}

fn header<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<Option<&'h str>, WebhookError> {
    headers
        .get(name)
        .map(|v| v.to_str().map_err(|_| MalformedSignature::NotText.at(name)))
        .transpose()
}

fn number(headers: &HeaderMap, name: &'static str) -> Result<Option<u64>, WebhookError> {
    header(headers, name)?
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| MalformedSignature::NotANumber.at(name))
        })
        .transpose()
}

/// `installation.id` of a payload, for deliveries to a GitHub App.
fn installation_id(body: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Probe {
        installation: Option<Installation>,
    }
    #[derive(serde::Deserialize)]
    struct Installation {
        id: Option<u64>,
    }
    serde_json::from_slice::<Probe>(body).ok()?.installation?.id
}

/// A verified, decoded delivery.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// `X-GitHub-Delivery`: the delivery's GUID, reused when GitHub redelivers it.
    pub id: String,
    /// `X-GitHub-Event`.
    pub event_name: String,
    /// `X-GitHub-Hook-ID`.
    pub hook_id: Option<u64>,
    /// `X-GitHub-Hook-Installation-Target-Type` (`repository`, `organization`, `integration`…).
    pub target_type: Option<String>,
    /// `X-GitHub-Hook-Installation-Target-ID`.
    pub target_id: Option<u64>,
    /// The payload's `installation.id`, for deliveries to a GitHub App.
    pub installation_id: Option<u64>,
    /// Which of the [`WebhookSecrets`] signed it (0 is the first).
    pub secret_index: usize,
    /// The payload.
    pub event: WebhookEvent,
}

/// Remembers the most recent delivery ids (bounded: the oldest are forgotten first), so a delivery GitHub sends
/// again (a manual or API redelivery keeps its `X-GitHub-Delivery`) is processed once.
#[derive(Debug)]
pub struct Redeliveries {
    seen: Mutex<LruCache<String, ()>>,
}

impl Redeliveries {
    /// Remembers up to `capacity` ids (at least one).
    pub fn new(capacity: usize) -> Self {
        let cap = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Redeliveries {
            seen: Mutex::new(LruCache::new(cap)),
        }
    }

    /// `true` the first time `id` is seen (and remembers it); `false` for a redelivery.
    pub fn first_time(&self, id: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.get(id).is_some() {
            return false;
        }
        seen.put(id.to_string(), ());
        true
    }

    /// Forgets `id`, so that a redelivery is processed again (after processing it failed).
    pub fn forget(&self, id: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.pop(id);
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// GitHub's documented test vector ("Validating webhook deliveries").
    const VECTOR_SECRET: &str = "It's a Secret to Everybody";
    const VECTOR_BODY: &[u8] = b"Hello, World!";
    const VECTOR_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn githubs_test_vector_verifies() {
        let secrets = WebhookSecrets::new(VECTOR_SECRET);
        assert_eq!(secrets.verify(VECTOR_SIGNATURE, VECTOR_BODY).unwrap(), 0);
        assert_eq!(sign(&VECTOR_SECRET.into(), VECTOR_BODY), VECTOR_SIGNATURE);
    }

    #[test]
    fn a_rotated_secret_is_accepted_and_named() {
        let secrets = WebhookSecrets::new("new").with(VECTOR_SECRET);
        assert_eq!(secrets.verify(VECTOR_SIGNATURE, VECTOR_BODY).unwrap(), 1);
        let only_new = WebhookSecrets::new("new");
        assert!(matches!(
            only_new.verify(VECTOR_SIGNATURE, VECTOR_BODY),
            Err(WebhookError::BadSignature)
        ));
    }

    #[test]
    fn malformed_headers_are_typed_errors() {
        let s = WebhookSecrets::new(VECTOR_SECRET);
        let reason = |h: &str| match s.verify(h, VECTOR_BODY) {
            Err(WebhookError::MalformedHeader { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        // The unprefixed digest (the old `X-Hub-Signature` habit) is refused.
        assert_eq!(
            reason(&VECTOR_SIGNATURE[7..]),
            MalformedSignature::MissingPrefix
        );
        assert_eq!(reason("sha1=757107ea"), MalformedSignature::MissingPrefix);
        assert_eq!(reason("sha256=abc"), MalformedSignature::WrongLength(3));
        assert_eq!(
            reason(&format!("sha256={}", "g".repeat(64))),
            MalformedSignature::NotHex
        );
        assert_eq!(reason(""), MalformedSignature::MissingPrefix);
    }

    #[test]
    fn a_changed_body_fails() {
        let s = WebhookSecrets::new(VECTOR_SECRET);
        assert!(matches!(
            s.verify(VECTOR_SIGNATURE, b"Hello, World?"),
            Err(WebhookError::BadSignature)
        ));
    }

    #[test]
    fn redeliveries_are_seen_once_and_memory_is_bounded() {
        let r = Redeliveries::new(2);
        assert!(r.first_time("a"));
        assert!(!r.first_time("a"));
        assert!(r.first_time("b"));
        assert!(r.first_time("c"));
        assert_eq!(r.len(), 2);
        // "a" was the oldest and has been forgotten.
        assert!(r.first_time("a"));
        r.forget("a");
        assert!(r.first_time("a"));
    }

    proptest! {
        #[test]
        fn the_parser_never_panics(s in ".*") {
            let _ = Signature::parse(&s);
        }

        #[test]
        fn the_parser_reads_back_what_it_writes(bytes in proptest::array::uniform32(any::<u8>()), upper in any::<bool>()) {
            let hex = hex::encode(bytes);
            let hex = if upper { hex.to_uppercase() } else { hex };
            prop_assert_eq!(*Signature::parse(&format!("sha256={hex}")).unwrap().as_bytes(), bytes);
        }

        #[test]
        fn a_signature_verifies_only_its_body_and_secret(
            secret in "[ -~]{1,40}", other in "[ -~]{1,40}",
            body in proptest::collection::vec(any::<u8>(), 0..512),
            flip in any::<prop::sample::Index>(),
        ) {
            let sig = sign(&secret.as_str().into(), &body);
            prop_assert_eq!(WebhookSecrets::new(secret.as_str()).verify(&sig, &body).unwrap(), 0);
            if other != secret {
                prop_assert!(matches!(WebhookSecrets::new(other.as_str()).verify(&sig, &body), Err(WebhookError::BadSignature)));
            }
            if !body.is_empty() {
                let mut changed = body.clone();
                changed[flip.index(body.len())] ^= 1;
                prop_assert!(matches!(WebhookSecrets::new(secret.as_str()).verify(&sig, &changed), Err(WebhookError::BadSignature)));
            }
        }

        #[test]
        fn arbitrary_headers_never_panic(sig in ".{0,80}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = WebhookSecrets::new("s").verify(&sig, &body);
        }
    }
}
