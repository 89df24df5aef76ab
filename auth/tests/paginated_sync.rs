//! A 50-page sync through the whole stack (auth layer, middleware, pagination stream) with faults in the middle:
//! a transient 500 is retried and the sync completes with every item exactly once; a 500 that persists ends the
//! stream with a typed error after every earlier item.

use futures::StreamExt;
use github_auth::middleware::{MiddlewareConfig, RetryConfig};
use github_auth::{AuthBuilder, SecretString};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PAGES: usize = 50;
const PER_PAGE: usize = 10;

/// Installations page by page; `fail_page` answers 500 for its first `failures` requests.
struct Pages {
    base: String,
    fail_page: usize,
    failures: usize,
    failed: AtomicUsize,
}

impl Respond for Pages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let page: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(1);
        if page == self.fail_page && self.failed.fetch_add(1, Ordering::SeqCst) < self.failures {
            return ResponseTemplate::new(500)
                .set_body_string("<html>Internal Server Error</html>");
        }
        let items: Vec<Value> = (0..PER_PAGE)
            .map(|i| {
                let id = (page - 1) * PER_PAGE + i;
                json!({"id": id, "account": null, "repository_selection": "all", "access_tokens_url": "u", "repositories_url": "u",
                       "html_url": "h", "app_id": 1, "target_id": 1, "target_type": "Organization", "permissions": {}, "events": [],
                       "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z", "single_file_name": null, "app_slug": "app",
                       "suspended_by": null, "suspended_at": null})
            })
            .collect();
        let mut t = ResponseTemplate::new(200).set_body_json(items);
        if page < PAGES {
            t = t.insert_header(
                "link",
                format!(
                    "<{}/app/installations?per_page={PER_PAGE}&page={}>; rel=\"next\"",
                    self.base,
                    page + 1
                )
                .as_str(),
            );
        }
        t
    }
}

async fn sync(failures: usize) -> (Vec<i64>, Vec<github_rest::Error>, usize) {
    let server = MockServer::start().await;
    let pages = Pages {
        base: server.uri(),
        fail_page: 23,
        failures,
        failed: AtomicUsize::new(0),
    };
    Mock::given(method("GET"))
        .and(path("/app/installations"))
        .and(header("authorization", "Bearer ghp_sync"))
        .respond_with(pages)
        .mount(&server)
        .await;
    let retry = RetryConfig {
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..RetryConfig::default()
    };
    let client = AuthBuilder::token(SecretString::from("ghp_sync"))
        .base_url(server.uri())
        .middleware(MiddlewareConfig::none().retry(Some(retry)))
        .build()
        .unwrap();
    let q = github_rest::apps::AppsListInstallationsQuery::new().per_page(PER_PAGE as i64);
    let all: Vec<_> = client.apps().list_installations_stream(&q).collect().await;
    let (mut ids, mut errors) = (Vec::new(), Vec::new());
    for r in all {
        match r {
            Ok(i) => ids.push(i.id),
            Err(e) => errors.push(e),
        }
    }
    let requests = server.received_requests().await.unwrap().len();
    (ids, errors, requests)
}

#[tokio::test]
async fn a_transient_500_in_the_middle_is_retried_and_nothing_is_lost_or_repeated() {
    let (ids, errors, requests) = sync(1).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ids, (0..(PAGES * PER_PAGE) as i64).collect::<Vec<_>>());
    assert_eq!(requests, PAGES + 1, "one retry");
}

#[tokio::test]
async fn a_persistent_500_ends_the_sync_with_a_typed_error_after_every_earlier_item() {
    let (ids, errors, _) = sync(usize::MAX).await;
    assert_eq!(ids, (0..(22 * PER_PAGE) as i64).collect::<Vec<_>>());
    assert_eq!(errors.len(), 1);
    let api = errors[0].api().expect("GitHub's last answer is the error");
    assert_eq!(api.status, 500);
    assert_eq!(&api.raw[..], b"<html>Internal Server Error</html>");
}
