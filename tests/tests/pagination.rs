//! Link-header pagination streams against a local mock GitHub.

use futures::StreamExt;
use github_rest::issues::IssuesListForRepoQuery;
use github_rest::repos::ReposGetAllEnvironmentsQuery;
use github_rest::Error;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tests::{fixture, mock_github};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

/// Serves `pages` pages of `per_page` issues (numbered 1..), with `next` (and `last` if asked) links; `fail_page`
/// answers 500 instead.
struct IssuePages {
    base: String,
    pages: usize,
    with_last: bool,
    fail_page: Option<usize>,
    hits: Arc<AtomicUsize>,
}

fn issue(n: usize) -> Value {
    let mut v = fixture("issue.json");
    v["number"] = json!(n);
    v["id"] = json!(n);
    v
}

impl Respond for IssuePages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.hits.fetch_add(1, Ordering::SeqCst);
        let q: std::collections::HashMap<String, String> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
        let per_page: usize = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(30);
        if Some(page) == self.fail_page {
            return ResponseTemplate::new(500).set_body_string("upstream exploded");
        }
        let items: Vec<Value> = (0..per_page)
            .map(|i| issue((page - 1) * per_page + i + 1))
            .collect();
        let mut links = Vec::new();
        if page < self.pages {
            links.push(format!(
                "<{}/repos/o/r/issues?per_page={per_page}&page={}>; rel=\"next\"",
                self.base,
                page + 1
            ));
            if self.with_last {
                links.push(format!(
                    "<{}/repos/o/r/issues?per_page={per_page}&page={}>; rel=\"last\"",
                    self.base, self.pages
                ));
            }
        }
        let mut t = ResponseTemplate::new(200).set_body_json(items);
        if !links.is_empty() {
            t = t.insert_header("link", links.join(", ").as_str());
        }
        t
    }
}

async fn serve(
    pages: usize,
    with_last: bool,
    fail_page: Option<usize>,
) -> (wiremock::MockServer, github_rest::Client, Arc<AtomicUsize>) {
    let (server, client) = mock_github().await;
    let hits = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .and(path("/repos/o/r/issues"))
        .respond_with(IssuePages {
            base: server.uri(),
            pages,
            with_last,
            fail_page,
            hits: hits.clone(),
        })
        .mount(&server)
        .await;
    (server, client, hits)
}

fn numbers(items: &[github_rest::types::Issue]) -> Vec<usize> {
    items.iter().map(|i| i.number as usize).collect()
}

#[tokio::test]
async fn follows_next_links_in_order_asking_100_per_page() {
    let (_s, client, hits) = serve(3, false, None).await;
    let items = client
        .issues()
        .list_for_repo_stream("o", "r", &IssuesListForRepoQuery::default())
        .collect_all()
        .await
        .unwrap();
    assert_eq!(numbers(&items), (1..=300).collect::<Vec<_>>());
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn known_page_count_fetches_concurrently_and_keeps_order() {
    let (_s, client, hits) = serve(50, true, None).await;
    let q = IssuesListForRepoQuery::new().per_page(20);
    let items = client
        .issues()
        .list_for_repo_stream("o", "r", &q)
        .collect_all()
        .await
        .unwrap();
    assert_eq!(numbers(&items), (1..=1000).collect::<Vec<_>>());
    assert_eq!(hits.load(Ordering::SeqCst), 50);
}

#[tokio::test]
async fn taking_a_few_items_stops_fetching() {
    let (_s, client, hits) = serve(3, false, None).await;
    let first: Vec<_> = client
        .issues()
        .list_for_repo_stream("o", "r", &IssuesListForRepoQuery::default())
        .take(5)
        .collect()
        .await;
    assert_eq!(first.len(), 5);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "only the first page is fetched"
    );
}

#[tokio::test]
async fn a_500_in_the_middle_of_a_50_page_sync_ends_with_a_typed_error_after_every_earlier_item() {
    for with_last in [false, true] {
        let (_s, client, _hits) = serve(50, with_last, Some(23)).await;
        let q = IssuesListForRepoQuery::new().per_page(10);
        let all: Vec<Result<_, Error>> = client
            .issues()
            .list_for_repo_stream("o", "r", &q)
            .collect()
            .await;
        let (ok, err): (Vec<_>, Vec<_>) = all.into_iter().partition(Result::is_ok);
        let ok: Vec<_> = ok.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            numbers(&ok),
            (1..=220).collect::<Vec<_>>(),
            "pages 1-22 arrive whole, in order, once (with_last={with_last})"
        );
        assert_eq!(err.len(), 1, "exactly one error ends the stream");
        let e = err.into_iter().next().unwrap().unwrap_err();
        assert_eq!(e.status().map(|s| s.as_u16()), Some(500));
        assert_eq!(&e.api().unwrap().raw[..], b"upstream exploded");
    }
}

#[tokio::test]
async fn empty_repository_409_is_an_empty_stream() {
    let (server, client) = mock_github().await;
    Mock::given(method("GET"))
        .and(path("/repos/o/empty/issues"))
        .respond_with(
            ResponseTemplate::new(409)
                .set_body_json(json!({"message": "Git Repository is empty."})),
        )
        .mount(&server)
        .await;
    let items = client
        .issues()
        .list_for_repo_stream("o", "empty", &IssuesListForRepoQuery::default())
        .collect_all()
        .await
        .unwrap();
    assert!(items.is_empty());
}

#[tokio::test]
async fn next_link_to_another_host_is_not_followed() {
    let (server, client) = mock_github().await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/issues"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([issue(1)]))
                .insert_header("link", "<https://evil.example/steal?page=2>; rel=\"next\""),
        )
        .mount(&server)
        .await;
    let all: Vec<_> = client
        .issues()
        .list_for_repo_stream("o", "r", &IssuesListForRepoQuery::default())
        .collect()
        .await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].as_ref().unwrap().number, 1);
    assert!(
        matches!(all[1], Err(Error::ForeignUrl(ref u)) if u.starts_with("https://evil.example/")),
        "{:?}",
        all[1]
    );
}

#[tokio::test]
async fn wrapper_pages_yield_the_wrapped_items_and_total_count() {
    let (server, client) = mock_github().await;
    let env = |id: u64, name: &str| json!({"id": id, "node_id": "x", "name": name, "url": "u", "html_url": "h", "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z"});
    let base = server.uri();
    Mock::given(method("GET"))
        .and(path("/repos/o/r/environments"))
        .and(wiremock::matchers::query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"total_count": 3, "environments": [env(3, "prod")]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/environments"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(
                    json!({"total_count": 3, "environments": [env(1, "dev"), env(2, "staging")]}),
                )
                .insert_header(
                    "link",
                    format!("<{base}/repos/o/r/environments?page=2>; rel=\"next\"").as_str(),
                ),
        )
        .mount(&server)
        .await;
    let mut s = client.repos().get_all_environments_stream(
        "o",
        "r",
        &ReposGetAllEnvironmentsQuery::default(),
    );
    let mut names = Vec::new();
    while let Some(e) = s.next().await {
        names.push(e.unwrap().name);
    }
    assert_eq!(names, ["dev", "staging", "prod"]);
    assert_eq!(s.total_count(), Some(3));
}
