//! Real api.github.com responses that other projects recorded in their test suites (2012–2026) decode into the
//! generated type of their operation. The recordings are vendored in `tests/data/recordings/` with their licences
//! (see its README): `@octokit/fixtures` (MIT), github3.py (BSD-3-Clause) and PyGithub (LGPL-3.0) cassettes, bodies
//! unchanged. The test prints how many decode per source and year, and what fails where.

use github_rest::runtime::{decode_json, DecodeFail};
#[allow(clippy::wildcard_imports)]
use github_rest::types::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// One recorded response.
struct Recording {
    source: String,
    operation_id: String,
    status: u16,
    recorded_at: Option<String>,
    recording: String,
    body: Value,
}

fn recordings() -> Vec<Recording> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/recordings");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&f).unwrap())
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let doc: Value = serde_json::from_str(&text).unwrap();
        let source = doc["source"].as_str().unwrap().to_string();
        for r in doc["recordings"].as_array().unwrap() {
            out.push(Recording {
                source: source.clone(),
                operation_id: r["operation_id"].as_str().unwrap().into(),
                status: r["status"].as_u64().unwrap() as u16,
                recorded_at: r["recorded_at"].as_str().map(str::to_string),
                recording: r["recording"].as_str().unwrap().into(),
                body: r["body"].clone(),
            });
        }
    }
    out
}

/// Why a body did not decode: the JSONPath, the Rust type and serde's message.
#[derive(Debug)]
struct Failure {
    path: String,
    rust_type: String,
    message: String,
}

/// Decodes `body` into `$t` with the generated crate's own decoder; checks `$t` is the type the manifest gives
/// the operation.
macro_rules! check {
    ($t:ty, $op:expr, $body:expr) => {{
        let ours = short(std::any::type_name::<$t>());
        assert_eq!(
            ours,
            manifest_type($op),
            "the table's type for {} is not the manifest's",
            $op
        );
        match decode_json::<$t>($body) {
            Ok(_) => Ok(()),
            Err(DecodeFail::Json(f)) => Err(Failure {
                path: f.path,
                rust_type: f.rust_type,
                message: f.source.to_string(),
            }),
            Err(_) => unreachable!("decode_json only fails on JSON"),
        }
    }};
}

/// `decode` is the generated type of each operation and status the recordings hold; a recording of any other
/// operation fails the test rather than being skipped.
fn decode(op: &str, status: u16, body: &[u8]) -> Result<(), Failure> {
    match (op, status) {
        ("actions/get-workflow", 200) => check!(Workflow, op, body),
        ("actions/get-workflow-run", 200) => check!(WorkflowRun, op, body),
        ("actions/list-jobs-for-workflow-run", 200) => {
            check!(ActionsListJobsForWorkflowRunAttemptResponse, op, body)
        }
        ("actions/list-repo-workflows", 200) => check!(ActionsListRepoWorkflowsResponse, op, body),
        ("actions/list-workflow-runs", 200) => {
            check!(ActionsListWorkflowRunsForRepoResponse, op, body)
        }
        ("actions/list-workflow-runs-for-repo", 200) => {
            check!(ActionsListWorkflowRunsForRepoResponse, op, body)
        }
        ("checks/create", 201) => check!(CheckRun, op, body),
        ("checks/create-suite", 201) => check!(CheckSuite, op, body),
        ("checks/get", 200) => check!(CheckRun, op, body),
        ("checks/get-suite", 200) => check!(CheckSuite, op, body),
        ("checks/list-annotations", 200) => check!(Vec<CheckAnnotation>, op, body),
        ("checks/list-for-ref", 200) => check!(ChecksListForSuiteResponse, op, body),
        ("checks/list-for-suite", 200) => check!(ChecksListForSuiteResponse, op, body),
        ("checks/list-suites-for-ref", 200) => check!(ChecksListSuitesForRefResponse, op, body),
        ("checks/set-suites-preferences", 200) => check!(CheckSuitePreference, op, body),
        ("checks/update", 200) => check!(CheckRun, op, body),
        ("git/create-ref", 201) => check!(GitRef, op, body),
        ("git/list-matching-refs", 200) => check!(Vec<GitRef>, op, body),
        ("issues/add-labels", 200) => check!(Vec<Label>, op, body),
        ("issues/create", 201) => check!(Issue, op, body),
        ("issues/create-comment", 201) => check!(IssueComment, op, body),
        ("issues/create-label", 201) => check!(Label, op, body),
        ("issues/get", 200) => check!(Issue, op, body),
        ("issues/get-label", 200) => check!(Label, op, body),
        ("issues/list-comments", 200) => check!(Vec<IssueComment>, op, body),
        ("issues/list-for-repo", 200) => check!(Vec<Issue>, op, body),
        ("issues/list-labels-for-repo", 200) => check!(Vec<Label>, op, body),
        ("issues/update", 200) => check!(IssuesUpdateResponse, op, body),
        ("issues/update-label", 200) => check!(Label, op, body),
        ("pulls/create", 201) => check!(PullRequest, op, body),
        ("pulls/create-review", 200) => check!(PullRequestReview, op, body),
        ("pulls/create-review-comment", 201) => check!(PullRequestReviewComment, op, body),
        ("pulls/get", 200) => check!(PullRequest, op, body),
        ("pulls/list", 200) => check!(Vec<PullRequestSimple>, op, body),
        ("pulls/list-commits", 200) => check!(Vec<Commit>, op, body),
        ("pulls/list-files", 200) => check!(Vec<DiffEntry>, op, body),
        ("pulls/list-requested-reviewers", 200) => check!(PullRequestReviewRequest, op, body),
        ("pulls/list-review-comments", 200) => check!(Vec<PullRequestReviewComment>, op, body),
        ("pulls/list-reviews", 200) => check!(Vec<PullRequestReview>, op, body),
        ("pulls/request-reviewers", 201) => check!(PullRequestSimple, op, body),
        ("pulls/submit-review", 200) => check!(PullRequestReview, op, body),
        ("pulls/update", 200) => check!(PullRequest, op, body),
        ("repos/create-commit-status", 201) => check!(Status, op, body),
        ("repos/create-in-org", 201) => check!(FullRepository, op, body),
        ("repos/create-or-update-file-contents", 200) => check!(FileCommit, op, body),
        ("repos/create-or-update-file-contents", 201) => check!(FileCommit, op, body),
        ("repos/create-release", 201) => check!(Release, op, body),
        ("repos/get", 200) => check!(FullRepository, op, body),
        ("repos/get-combined-status-for-ref", 200) => check!(CombinedCommitStatus, op, body),
        ("repos/get-commit", 200) => check!(Commit, op, body),
        ("repos/get-content", 200) => check!(ReposGetContentResponse, op, body),
        ("repos/get-latest-release", 200) => check!(Release, op, body),
        ("repos/get-release", 200) => check!(Release, op, body),
        ("repos/get-release-asset", 200) => check!(ReleaseAsset, op, body),
        ("repos/get-release-by-tag", 200) => check!(Release, op, body),
        ("repos/list-commit-statuses-for-ref", 200) => check!(Vec<Status>, op, body),
        ("repos/list-commits", 200) => check!(Vec<Commit>, op, body),
        ("repos/list-for-authenticated-user", 200) => check!(Vec<Repository>, op, body),
        ("repos/list-for-org", 200) => check!(Vec<MinimalRepository>, op, body),
        ("repos/list-for-user", 200) => check!(Vec<MinimalRepository>, op, body),
        ("repos/list-release-assets", 200) => check!(Vec<ReleaseAsset>, op, body),
        ("repos/list-releases", 200) => check!(Vec<Release>, op, body),
        ("repos/update", 200) => check!(FullRepository, op, body),
        ("repos/update-release", 200) => check!(Release, op, body),
        ("repos/update-release-asset", 200) => check!(ReleaseAsset, op, body),
        ("repos/upload-release-asset", 201) => check!(ReleaseAsset, op, body),
        ("search/code", 200) => check!(SearchCodeResponse, op, body),
        ("search/commits", 200) => check!(SearchCommitsResponse, op, body),
        ("search/issues-and-pull-requests", 200) => {
            check!(SearchIssuesAndPullRequestsResponse, op, body)
        }
        ("search/users", 200) => check!(SearchUsersResponse, op, body),
        _ => panic!("no decoder for {op} {status}: add the operation's type to the table"),
    }
}

fn manifest_type(op: &str) -> String {
    static MANIFEST: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let m = MANIFEST.get_or_init(|| {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../generated/operations.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    });
    let o = m["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["operation_id"] == op)
        .unwrap_or_else(|| panic!("{op} is not in the manifest"));
    let ty = o["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"].as_str().is_some_and(|s| s.starts_with('2')))
        .unwrap()["rust_type"]
        .as_str()
        .unwrap();
    short(ty)
}

/// `alloc::vec::Vec<github_rest::types::shared::Label>` and `Vec<crate::types::Label>` → `Vec<Label>`.
fn short(ty: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    for c in ty.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            out.push_str(word.rsplit("::").next().unwrap());
            word.clear();
            if c != ' ' {
                out.push(c);
            }
        }
    }
    out
}

#[test]
fn recorded_responses_from_many_eras_decode() {
    let all = recordings();
    // (source, year) -> (decoded, total)
    let mut table: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for r in &all {
        let body = serde_json::to_vec(&r.body).unwrap();
        let year = r
            .recorded_at
            .as_deref()
            .map_or("undated".into(), |d| d[..4].to_string());
        let cell = table.entry((r.source.clone(), year)).or_default();
        cell.1 += 1;
        match decode(&r.operation_id, r.status, &body) {
            Ok(()) => cell.0 += 1,
            Err(f) => failures.push((r, f)),
        }
    }
    println!("| source | year | decoded | recorded |\n|---|---|---:|---:|");
    for ((source, year), (ok, n)) in &table {
        println!("| {source} | {year} | {ok} | {n} |");
    }
    let decoded = all.len() - failures.len();
    println!("decoded {decoded} of {} recorded responses", all.len());
    for (r, f) in &failures {
        println!(
            "FAIL {} {} ({}, {}): {} at {}: {}",
            r.operation_id,
            r.recording,
            r.source,
            r.recorded_at.as_deref().unwrap_or("undated"),
            f.rust_type,
            f.path,
            f.message
        );
    }
    let years: std::collections::BTreeSet<&str> = table
        .keys()
        .map(|(_, y)| y.as_str())
        .filter(|y| *y != "undated")
        .collect();
    assert!(years.len() >= 10, "recordings span {years:?}");
    assert!(all.len() >= 700, "{} recordings", all.len());

    // Every failure is a required field missing from a response recorded before GitHub sent that field (or a
    // recording edited by hand); none is a wrong type or shape. The fields are exactly these.
    let mut missing: std::collections::BTreeSet<&str> = Default::default();
    for (r, f) in &failures {
        if EDITED.contains(&r.recording.as_str()) {
            continue;
        }
        let field = f
            .message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
            .unwrap_or_else(|| panic!("{} fails for another reason: {f:?}", r.recording));
        missing.insert(field);
    }
    assert_eq!(
        missing.into_iter().collect::<Vec<_>>(),
        [
            "comment_count",  // a commit's `commit.comment_count`, 2012
            "commits",        // a pull request's `_links.commits`, 2013
            "disabled",       // repositories, until 2019
            "html_url",       // a user's `html_url` (repository owners), 2012
            "id",             // labels, 2012-2013
            "node_id",        // global node ids, until 2018 (workflow runs until late 2020)
            "path",           // workflow runs, 2020
            "repository_url", // issues in search results, 2014
            "search_type",    // search results, before the 23.x descriptions added it
        ]
    );

    // Since 2021 every recording decodes but two: one edited by hand, and a 2022 search result from before
    // `search_type` existed (api.github.com's description requires it now; GHES targets do not, see
    // `normalize::required_since`).
    let recent: Vec<String> = failures
        .iter()
        .filter(|(r, _)| r.recorded_at.as_deref().is_some_and(|d| d >= "2021"))
        .map(|(r, f)| format!("{} {} {}", r.recording, f.path, f.message))
        .collect();
    let recent_total = all
        .iter()
        .filter(|r| r.recorded_at.as_deref().is_some_and(|d| d >= "2021"))
        .count();
    println!(
        "since 2021: decoded {} of {recent_total}",
        recent_total - recent.len()
    );
    assert_eq!(recent.len(), 2, "{recent:#?}");
    assert!(recent[0].starts_with(
        "tests/ReplayData/PullRequest.setUp.txt:12 $.requested_reviewers[0] missing field `id`"
    ));
    assert!(recent[1].starts_with(
        "scenarios/api.github.com/search-issues/raw-fixture.json#3 $ missing field `search_type`"
    ));
}

/// Recordings whose bodies were edited by hand in the project that recorded them: PyGithub trimmed
/// `requested_reviewers` of this one to `[{"login": "sfdye"}]` and `requested_teams` to `[{"id": 123}]`.
const EDITED: &[&str] = &["tests/ReplayData/PullRequest.setUp.txt:12"];

/// The recorded body of `recording` (a name from the vendored files).
fn recorded(recording: &str) -> Value {
    recordings()
        .into_iter()
        .find(|r| r.recording == recording)
        .unwrap_or_else(|| panic!("{recording} is vendored"))
        .body
}

#[tokio::test]
async fn a_pull_request_whose_head_fork_and_owner_were_deleted_decodes() {
    // PyGithub recorded PyGithub/PyGithub#31 in January 2025: its head fork and owner are gone, and GitHub answers
    // `head.repo`, `head.user` and `head.label` null.
    let body = recorded("tests/ReplayData/PullRequestComment.setUp.txt:12");
    assert!(body["head"]["repo"].is_null() && body["head"]["user"].is_null());
    assert!(body["head"]["label"].is_null());
    let (server, client) = tests::mock_github().await;
    Mock::given(method("GET"))
        .and(path("/repos/PyGithub/PyGithub/pulls/31"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&body))
        .expect(1)
        .mount(&server)
        .await;
    let resp = client
        .pulls()
        .get("PyGithub", "PyGithub", 31)
        .await
        .expect("pulls/get decodes a pull request from a deleted fork");
    let pr = resp.body;
    assert_eq!(pr.number, 31);
    assert!(pr.head.repo.is_none() && pr.head.user.is_none() && pr.head.label.is_none());
    assert_eq!(pr.head.r#ref, body["head"]["ref"].as_str().unwrap());
    // The base side is the repository asked about and stays a plain field.
    assert_eq!(pr.base.repo.full_name, "PyGithub/PyGithub");
}

#[tokio::test]
async fn a_page_of_pull_requests_with_deleted_forks_decodes() {
    // github3.py recorded `GET /repos/sigmavirus24/github3.py/pulls` in October 2021: #182 comes from a fork that
    // was deleted (`head.repo` null).
    let body = recorded("tests/cassettes/Repository_pull_requests_accept_sort.json#2");
    let (server, client) = tests::mock_github().await;
    Mock::given(method("GET"))
        .and(path("/repos/sigmavirus24/github3.py/pulls"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&body))
        .expect(2)
        .mount(&server)
        .await;
    let resp = client
        .pulls()
        .list("sigmavirus24", "github3.py", &Default::default())
        .await
        .expect("pulls/list decodes a page holding a pull request from a deleted fork");
    let prs = resp.body;
    assert_eq!(prs.len(), body.as_array().unwrap().len());
    let deleted: Vec<i64> = prs
        .iter()
        .filter(|p| p.head.repo.is_none())
        .map(|p| p.number)
        .collect();
    assert_eq!(deleted, [182]);
    // The stream yields every item, the deleted forks included.
    use futures::StreamExt;
    let items: Vec<_> = client
        .pulls()
        .list_stream("sigmavirus24", "github3.py", &Default::default())
        .collect()
        .await;
    assert_eq!(items.len(), prs.len());
    assert!(items.iter().all(Result::is_ok));
}

#[tokio::test]
async fn a_body_that_does_not_decode_says_where_and_can_still_be_read() {
    // A recorded page with one value GitHub would never send (a pull request without a head sha): the error names
    // the operation, the JSONPath and the Rust type, and the body is still there as JSON.
    let mut body = recorded("tests/cassettes/Repository_pull_requests_accept_sort.json#2");
    body[2]["head"]["sha"] = Value::Null;
    let (server, client) = tests::mock_github().await;
    Mock::given(method("GET"))
        .and(path("/repos/sigmavirus24/github3.py/pulls"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&body))
        .mount(&server)
        .await;
    let err = client
        .pulls()
        .list("sigmavirus24", "github3.py", &Default::default())
        .await
        .unwrap_err();
    assert_eq!(err.decode_path(), Some("$[2].head.sha"));
    let github_rest::Error::Decode {
        operation,
        ref rust_type,
        ..
    } = err
    else {
        panic!("a decode error: {err}")
    };
    assert_eq!(operation, "pulls/list");
    assert_eq!(rust_type, "Vec<PullRequestSimple>");
    assert!(
        err.to_string().starts_with(
            "pulls/list: could not decode the 200 OK response into Vec<PullRequestSimple> at $[2].head.sha: invalid type: null"
        ),
        "{err}"
    );
    assert_eq!(err.body_json().unwrap(), body);
}
