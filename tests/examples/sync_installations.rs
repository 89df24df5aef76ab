//! Sync every issue of every repository across a GitHub App's installations: the App (its JWT) lists its
//! installations; each installation's client (its own token, minted once and cached) lists the repositories it can
//! see and streams every issue of each, page by page, into a local store. Run against a mock GitHub on 127.0.0.1
//! that serves two installations of two repositories each, 250 issues per repository in pages of 100 (`Link`
//! headers, as GitHub sends them).
//!
//! Run with `cargo run -p tests --example sync_installations`.

use github_auth::{AuthBuilder, SecretString};
use github_rest::apps::AppsListReposAccessibleToInstallationQuery;
use github_rest::issues::IssuesListForRepoQuery;
use github_rest::prelude::*;
use std::collections::BTreeMap;

/// What the sync keeps: per repository (`owner/name`), issue number → (title, state).
type Store = BTreeMap<String, BTreeMap<i64, (String, String)>>;

/// Walks every installation of the App, every repository each can see, and every issue of each repository.
async fn sync(
    app: &github_auth::App,
    store: &mut Store,
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut calls = 0;
    let installations = app.installations().await?;
    for inst in installations {
        let client = app.installation_client(inst.id, None)?;
        let mut repos = client.apps().list_repos_accessible_to_installation_stream(
            &AppsListReposAccessibleToInstallationQuery::new(),
        );
        while let Some(repo) = repos.try_next().await? {
            let query = IssuesListForRepoQuery::new().state("all");
            let mut issues =
                client
                    .issues()
                    .list_for_repo_stream(&repo.owner.login, &repo.name, &query);
            let kept = store.entry(repo.full_name.clone()).or_default();
            while let Some(issue) = issues.try_next().await? {
                kept.insert(issue.number, (issue.title, issue.state));
            }
            calls += 1;
        }
    }
    Ok(calls)
}

const APP_KEY: &str = include_str!("../../auth/tests/data/app-key-pkcs1.pem");
const ISSUES_PER_REPO: usize = 250;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = wiremock::MockServer::start().await;
    mock::mount(&server).await;
    let app = AuthBuilder::app(4242, SecretString::from(APP_KEY))
        .base_url(server.uri())
        .user_agent("sync-installations-example")
        .build_app()?;
    let mut store = Store::new();
    let started = std::time::Instant::now();
    let repos = sync(&app, &mut store).await?;
    let total: usize = store.values().map(BTreeMap::len).sum();
    for (repo, issues) in &store {
        let open = issues.values().filter(|(_, s)| s == "open").count();
        println!("{repo}: {} issues ({open} open)", issues.len());
    }
    println!(
        "synced {total} issues of {repos} repositories in {:.0?}",
        started.elapsed()
    );
    assert_eq!(
        total,
        4 * ISSUES_PER_REPO,
        "every issue of every repository"
    );
    Ok(())
}

/// The mock GitHub: `/app/installations`, a token per installation, each installation's repositories, and the
/// issues of each repository in pages.
mod mock {
    use super::ISSUES_PER_REPO;
    use serde_json::{json, Value};
    use tests::fixture;
    use wiremock::matchers::{header, method, path, path_regex};
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    const ORGS: [&str; 2] = ["acme", "globex"];

    pub async fn mount(server: &MockServer) {
        let installations: Vec<Value> = ORGS
            .iter()
            .enumerate()
            .map(|(i, org)| {
                let mut inst = fixture("installation.json");
                inst["id"] = json!(i + 1);
                inst["account"]["login"] = json!(org);
                inst
            })
            .collect();
        Mock::given(method("GET"))
            .and(path("/app/installations"))
            .respond_with(ResponseTemplate::new(200).set_body_json(installations))
            .mount(server)
            .await;
        for (i, org) in ORGS.iter().enumerate() {
            let id = i + 1;
            let token = format!("ghs_installation{id}");
            let mut t = fixture("installation-token.json");
            t["token"] = json!(token);
            t["expires_at"] = json!("2999-01-01T00:00:00Z");
            Mock::given(method("POST"))
                .and(path(format!("/app/installations/{id}/access_tokens")))
                .respond_with(ResponseTemplate::new(201).set_body_json(t))
                .expect(1)
                .mount(server)
                .await;
            let repos: Vec<Value> = ["api", "web"]
                .iter()
                .map(|name| {
                    let mut r = fixture("full-repository.json");
                    r["name"] = json!(name);
                    r["full_name"] = json!(format!("{org}/{name}"));
                    r["owner"]["login"] = json!(org);
                    r
                })
                .collect();
            // Each installation sees only its own repositories, with its own token.
            Mock::given(method("GET"))
                .and(path("/installation/repositories"))
                .and(header("authorization", format!("Bearer {token}").as_str()))
                .respond_with(
                    ResponseTemplate::new(200)
                        .set_body_json(json!({"total_count": repos.len(), "repositories": repos})),
                )
                .mount(server)
                .await;
            Mock::given(method("GET"))
                .and(path_regex(format!("^/repos/{org}/[a-z]+/issues$")))
                .and(header("authorization", format!("Bearer {token}").as_str()))
                .respond_with(Pages {
                    base: server.uri(),
                    issue: fixture("issue.json"),
                })
                .mount(server)
                .await;
        }
    }

    /// One repository's issues, 100 a page, with `Link: rel="next"` and `rel="last"` like GitHub's.
    struct Pages {
        base: String,
        issue: Value,
    }

    impl Respond for Pages {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            let q = |k: &str| {
                req.url
                    .query_pairs()
                    .find(|(n, _)| n == k)
                    .and_then(|(_, v)| v.parse::<usize>().ok())
            };
            let (page, per) = (q("page").unwrap_or(1), q("per_page").unwrap_or(30));
            let last = ISSUES_PER_REPO.div_ceil(per);
            let items: Vec<Value> = ((page - 1) * per..(page * per).min(ISSUES_PER_REPO))
                .map(|n| {
                    let mut i = self.issue.clone();
                    i["number"] = json!(n + 1);
                    i["state"] = json!(if n % 3 == 0 { "closed" } else { "open" });
                    i
                })
                .collect();
            let url = |p: usize| {
                format!(
                    "<{}{}?state=all&per_page={per}&page={p}>",
                    self.base,
                    req.url.path()
                )
            };
            let mut links = Vec::new();
            if page < last {
                links.push(format!("{}; rel=\"next\"", url(page + 1)));
                links.push(format!("{}; rel=\"last\"", url(last)));
            }
            let mut r = ResponseTemplate::new(200).set_body_json(items);
            if !links.is_empty() {
                r = r.insert_header("link", links.join(", ").as_str());
            }
            r
        }
    }
}
