//! Benchmark (prints figures; passes or fails nothing): 10,000 items in 100 pages of 100 from a mock GitHub that
//! answers each request after 100 ms, fetched one page at a time and with numbered pages fetched concurrently,
//! against the floor latency allows for each.
//!
//! Run with `cargo run --release -p tests --example bench_pagination`.

use futures::StreamExt;
use github_rest::issues::IssuesListLabelsForRepoQuery;
use github_rest::Client;
use serde_json::json;
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PAGES: usize = 100;
const PER_PAGE: usize = 100;
const LATENCY: Duration = Duration::from_millis(100);

struct Labels {
    base: String,
}

impl Respond for Labels {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let page: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(1);
        let items: Vec<_> = (0..PER_PAGE)
            .map(|i| {
                let n = (page - 1) * PER_PAGE + i;
                json!({"id": n, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=", "url": "https://api.github.com/repos/o/r/labels/bug", "name": format!("label-{n}"),
                       "description": "Something isn't working", "color": "f29513", "default": false})
            })
            .collect();
        let mut links = vec![];
        if page < PAGES {
            links.push(format!(
                "<{}/repos/o/r/labels?per_page={PER_PAGE}&page={}>; rel=\"next\"",
                self.base,
                page + 1
            ));
            links.push(format!(
                "<{}/repos/o/r/labels?per_page={PER_PAGE}&page={PAGES}>; rel=\"last\"",
                self.base
            ));
        }
        let mut t = ResponseTemplate::new(200)
            .set_body_json(items)
            .set_delay(LATENCY);
        if !links.is_empty() {
            t = t.insert_header("link", links.join(", ").as_str());
        }
        t
    }
}

async fn run(server: &MockServer, concurrency: usize) -> (usize, Duration) {
    let client = Client::builder()
        .base_url(server.uri())
        .page_concurrency(concurrency)
        .build()
        .unwrap();
    let start = Instant::now();
    let mut s = client.issues().list_labels_for_repo_stream(
        "o",
        "r",
        &IssuesListLabelsForRepoQuery::default(),
    );
    let mut n = 0;
    let mut last = None;
    while let Some(item) = s.next().await {
        let item = item.expect("no errors from the mock");
        // Items arrive in order, none lost or repeated.
        assert_eq!(item.id, last.map_or(0, |l: i64| l + 1));
        last = Some(item.id);
        n += 1;
    }
    (n, start.elapsed())
}

#[tokio::main]
async fn main() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/labels"))
        .respond_with(Labels { base: server.uri() })
        .mount(&server)
        .await;
    let sequential_floor = LATENCY * PAGES as u32;
    println!(
        "{} items, {PAGES} pages of {PER_PAGE}, {} ms per response",
        PAGES * PER_PAGE,
        LATENCY.as_millis()
    );
    println!("| mode | items | seconds | latency floor (s) | × floor | × sequential |");
    println!("|---|---:|---:|---:|---:|---:|");
    let (n, seq) = run(&server, 1).await;
    println!(
        "| sequential (next links) | {n} | {:.2} | {:.2} | {:.2} | 1.00 |",
        seq.as_secs_f64(),
        sequential_floor.as_secs_f64(),
        seq.as_secs_f64() / sequential_floor.as_secs_f64()
    );
    for c in [4, 10, 20] {
        // The first page must arrive before the count is known; then the other 99 go in waves of `c`.
        let floor = LATENCY * (1 + (PAGES as u32 - 1).div_ceil(c as u32));
        let (n, t) = run(&server, c).await;
        println!(
            "| concurrent, {c} in flight | {n} | {:.2} | {:.2} | {:.2} | {:.2} |",
            t.as_secs_f64(),
            floor.as_secs_f64(),
            t.as_secs_f64() / floor.as_secs_f64(),
            t.as_secs_f64() / seq.as_secs_f64()
        );
    }
}
