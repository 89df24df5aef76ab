//! Webhook deliveries: recorded-looking deliveries replayed through the example receiver (signature, redelivery,
//! unknown events, the API call-back), the entry point's typed errors, and the public corpus of example payloads.

#[allow(dead_code, reason = "the example's `main` is not called here")]
#[path = "../examples/webhook_receiver.rs"]
mod receiver;

use github_auth::webhooks::{
    sign, MalformedSignature, WebhookError, WebhookSecrets, DELIVERY_HEADER, EVENT_HEADER,
    HOOK_ID_HEADER, SIGNATURE_HEADER, TARGET_ID_HEADER, TARGET_TYPE_HEADER,
};
use github_rest::webhooks::WebhookEvent;
use http::{HeaderMap, HeaderValue};
use receiver::{IssueRecord, Processed};
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::io::Read;

#[tokio::test]
async fn replayed_deliveries_are_verified_deduplicated_and_synced() {
    // The API answers the call-back slowly, so the receiver's answers show they do not wait for processing.
    let api = receiver::mock_api(std::time::Duration::from_millis(1500))
        .await
        .unwrap();
    let client = github_auth::AuthBuilder::token(SecretString::from("ghs_test"))
        .base_url(api.uri())
        .build()
        .unwrap();
    let (rx, store) = receiver::start(WebhookSecrets::new(receiver::TEST_SECRET), client);
    let url = receiver::serve(rx).await.unwrap();

    let answers = receiver::replay(&url).await.unwrap();
    let statuses: Vec<u16> = answers.iter().map(|(_, s)| *s).collect();
    // opened, ping, edited, comment, unknown event: accepted; the redelivered `edited`: answered, not queued;
    // the forged `reopened`: 401.
    assert_eq!(statuses, [202, 202, 202, 202, 202, 200, 401]);
    // Every delivery was answered while the comment's call-back to the API was still pending.
    assert!(
        store.processed.lock().unwrap().len() < 5,
        "answers came after processing"
    );

    let done = receiver::processed(&store, 5).await;
    let id = |n: u8| format!("d0000001-0000-0000-0000-00000000000{n}");
    assert_eq!(
        done,
        [
            Processed::Synced { delivery: id(1) },
            Processed::Ignored {
                delivery: id(2),
                event: "ping".into()
            },
            Processed::Synced { delivery: id(3) },
            Processed::Synced { delivery: id(4) },
            Processed::Unknown {
                delivery: id(5),
                event: "widget".into()
            },
        ]
    );
    // The duplicate and the forged delivery were not processed, even later.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(store.processed.lock().unwrap().len(), 5);

    // The comment's call-back to the API set the issue from the API's copy (2 comments), and the forged
    // `reopened` changed nothing.
    let issues = store.issues.lock().unwrap().clone();
    assert_eq!(
        issues,
        BTreeMap::from([(
            ("Codertocat/Hello-World".to_string(), 1),
            IssueRecord {
                title: "Spelling error in the README file".into(),
                state: "open".into(),
                comments: 2,
                last_comment: Some("You are totally right! I'll get this fixed right away.".into()),
            }
        )])
    );
    let calls = api.received_requests().await.unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].url.path(),
        "/repos/Codertocat/Hello-World/issues/1"
    );
}

fn headers(secret: &str, event: &str, body: &[u8]) -> HeaderMap {
    let mut h = HeaderMap::new();
    let sig = sign(&SecretString::from(secret), body);
    h.insert(SIGNATURE_HEADER, HeaderValue::from_str(&sig).unwrap());
    h.insert(EVENT_HEADER, HeaderValue::from_str(event).unwrap());
    h.insert(
        DELIVERY_HEADER,
        HeaderValue::from_static("72d3162e-cc78-11e3-81ab-4c9367dc0958"),
    );
    h.insert(HOOK_ID_HEADER, HeaderValue::from_static("292430182"));
    h.insert(TARGET_TYPE_HEADER, HeaderValue::from_static("integration"));
    h.insert(TARGET_ID_HEADER, HeaderValue::from_static("79929171"));
    h
}

#[test]
fn the_entry_point_returns_ids_and_the_typed_event() {
    let body = std::fs::read(receiver::data_dir().join("01-issues-opened.json")).unwrap();
    let secrets = WebhookSecrets::new("old").with("s3cret");
    let d = secrets
        .receive(&headers("s3cret", "issues", &body), &body)
        .unwrap();
    assert_eq!(d.id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert_eq!(d.hook_id, Some(292430182));
    assert_eq!(d.target_type.as_deref(), Some("integration"));
    assert_eq!(d.target_id, Some(79929171));
    assert_eq!(d.installation_id, Some(42));
    assert_eq!(d.secret_index, 1);
    let WebhookEvent::IssuesOpened(p) = &d.event else {
        panic!("{:?}", d.event.event())
    };
    assert_eq!(p.issue.number, 1);
    assert_eq!(
        (d.event.event(), d.event.action()),
        ("issues", Some("opened"))
    );
}

#[test]
fn missing_malformed_and_wrong_headers_are_typed_errors() {
    let body = br#"{"zen":"Design for failure."}"#;
    let secrets = WebhookSecrets::new("s3cret");
    let good = headers("s3cret", "ping", body);

    let mut h = good.clone();
    h.remove(SIGNATURE_HEADER);
    assert!(matches!(
        secrets.receive(&h, body),
        Err(WebhookError::MissingHeader(SIGNATURE_HEADER))
    ));

    let mut h = good.clone();
    h.insert(SIGNATURE_HEADER, HeaderValue::from_static("sha1=0123"));
    assert!(matches!(
        secrets.receive(&h, body),
        Err(WebhookError::MalformedHeader {
            reason: MalformedSignature::MissingPrefix,
            ..
        })
    ));

    let h = headers("other", "ping", body);
    assert!(matches!(
        secrets.receive(&h, body),
        Err(WebhookError::BadSignature)
    ));

    // The signature is checked before the other headers, so a forged delivery learns nothing more.
    let mut h = headers("other", "ping", body);
    h.remove(DELIVERY_HEADER);
    assert!(matches!(
        secrets.receive(&h, body),
        Err(WebhookError::BadSignature)
    ));

    let mut h = good.clone();
    h.remove(DELIVERY_HEADER);
    assert!(matches!(
        secrets.receive(&h, body),
        Err(WebhookError::MissingHeader(DELIVERY_HEADER))
    ));

    let mut h = good.clone();
    h.insert(HOOK_ID_HEADER, HeaderValue::from_static("twelve"));
    assert!(matches!(
        secrets.receive(&h, body),
        Err(WebhookError::MalformedHeader {
            header: HOOK_ID_HEADER,
            reason: MalformedSignature::NotANumber
        })
    ));

    // Authentic, but not JSON: a decode error naming the event.
    let h = headers("s3cret", "ping", b"not json");
    assert!(
        matches!(secrets.receive(&h, b"not json"), Err(WebhookError::Decode { event, .. }) if event == "ping")
    );

    let d = secrets.receive(&good, body).unwrap();
    assert!(matches!(d.event, WebhookEvent::Ping(_)));
}

#[test]
fn an_unknown_event_keeps_its_name_action_and_raw_payload() {
    let body = br#"{"action":"materialized","widget":{"id":7}}"#;
    let e = WebhookEvent::parse("widget", body).unwrap();
    let WebhookEvent::Unknown {
        event,
        action,
        payload,
    } = &e
    else {
        panic!("not unknown")
    };
    assert_eq!(event, "widget");
    assert_eq!(action.as_deref(), Some("materialized"));
    assert_eq!(payload.get().as_bytes(), body);
    // A known event with an action the description does not list is kept the same way.
    let e = WebhookEvent::parse("issues", br#"{"action":"teleported"}"#).unwrap();
    assert!(e.is_unknown());
    assert_eq!(e.action(), Some("teleported"));
}

/// The public corpus of example deliveries (`@octokit/webhooks-examples` 7.6.1, MIT; vendored as
/// `openapi/deliveries/`, where the generator reads it as evidence of the fields GitHub leaves out): every example of
/// every event, decoded through the typed enum.
#[test]
fn the_public_corpus_decodes() {
    let mut gz = Vec::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../openapi/deliveries/octokit-webhooks-examples-7.6.1.json.gz"),
        )
        .unwrap(),
    )
    .read_to_end(&mut gz)
    .unwrap();
    #[derive(serde::Deserialize)]
    struct Event {
        name: String,
        examples: Vec<serde_json::Value>,
    }
    let corpus: Vec<Event> = serde_json::from_slice(&gz).unwrap();
    let (mut typed, mut unknown, mut failed) = (0, Vec::new(), Vec::new());
    let mut only_unix_times = Vec::new();
    for ev in &corpus {
        for (i, ex) in ev.examples.iter().enumerate() {
            let body = serde_json::to_vec(ex).unwrap();
            match WebhookEvent::parse(&ev.name, &body) {
                Ok(e) if e.is_unknown() => {
                    unknown.push(format!("{}.{}", ev.name, e.action().unwrap_or("-")))
                }
                Ok(_) => typed += 1,
                Err(err) => {
                    let name = format!("{}[{i}]", ev.name);
                    // Does it decode once its Unix-time stamps are written as RFC 3339 strings?
                    let mut rewritten = ex.clone();
                    unix_times_as_strings(&mut rewritten);
                    let body = serde_json::to_vec(&rewritten).unwrap();
                    if WebhookEvent::parse(&ev.name, &body).is_ok_and(|e| !e.is_unknown()) {
                        only_unix_times.push(name.clone());
                    }
                    failed.push(format!("{name} {:?}: {err}", ex.get("action")));
                }
            }
        }
    }
    let total: usize = corpus.iter().map(|e| e.examples.len()).sum();
    println!(
        "corpus: {total} examples of {} events; typed {typed}, unknown {} {unknown:?}, failed {}:\n  {}",
        corpus.len(),
        unknown.len(),
        failed.len(),
        failed.join("\n  ")
    );
    assert_eq!(typed + unknown.len() + failed.len(), total);
    // Every event of the corpus is known to the description.
    assert!(unknown.is_empty(), "{unknown:?}");
    // Required fields these older recordings lack are optional (`normalize::required_from_deliveries` reads this
    // corpus as its evidence), and `Timestamp` reads the Unix seconds of `installation.created_at` and the
    // `2018-04-25 20:42:10` of 2018 check runs: every example decodes.
    assert_eq!((total, typed, failed.len()), (329, 329, 0), "{failed:?}");
    assert!(only_unix_times.is_empty());
}

/// Rewrites every integer under a key ending in `_at` as an RFC 3339 date-time string.
fn unix_times_as_strings(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, c) in m.iter_mut() {
                if k.ends_with("_at") && c.is_i64() {
                    *c = "2019-05-15T15:19:51Z".into();
                } else {
                    unix_times_as_strings(c);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(unix_times_as_strings),
        _ => {}
    }
}
