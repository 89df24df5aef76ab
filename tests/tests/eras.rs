//! Payloads shaped like GitHub's answers from several API eras decode: objects created before a field existed come
//! back without it, and the types must not fail on that (see the crate docs' policy on required fields).

use github_rest::types::{FullRepository, Issue};
use serde_json::{json, Value};
use tests::fixture;

fn without(mut v: Value, fields: &[&str]) -> Value {
    for f in fields {
        v.as_object_mut().unwrap().remove(*f);
    }
    v
}

#[test]
fn repositories_from_before_topics_visibility_templates_and_discussions() {
    // A 2016-era repository: no topics (2017), is_template (2019), visibility (2019), allow_forking (2021),
    // web_commit_signoff_required (2022), has_discussions (2022), temp_clone_token, security_and_analysis.
    let old = without(
        fixture("full-repository.json"),
        &[
            "topics",
            "is_template",
            "visibility",
            "allow_forking",
            "web_commit_signoff_required",
            "has_discussions",
            "temp_clone_token",
            "security_and_analysis",
            "template_repository",
        ],
    );
    let r: FullRepository =
        serde_json::from_value(old).expect("an older repository payload decodes");
    assert_eq!(r.full_name, "octocat/Hello-World");
    assert_eq!(r.has_discussions, None);
    assert_eq!(r.topics, None);
    // Today's payload keeps the newer fields.
    let now: FullRepository = serde_json::from_value(fixture("full-repository.json")).unwrap();
    assert_eq!(now.topics.as_deref().map(<[String]>::len), Some(4));
}

#[test]
fn issues_from_before_reactions_state_reason_and_timelines() {
    let old = without(
        fixture("issue.json"),
        &[
            "state_reason",
            "timeline_url",
            "reactions",
            "performed_via_github_app",
            "active_lock_reason",
            "author_association",
            "closed_by",
            "body_html",
            "body_text",
            "draft",
            "type",
            "sub_issues_summary",
            "issue_dependencies_summary",
            "pinned_comment",
            "issue_field_values",
        ],
    );
    let i: Issue = serde_json::from_value(old).expect("an older issue payload decodes");
    assert_eq!(i.number, 1347);
    assert_eq!(i.state_reason, None);
}

#[test]
fn check_runs_whose_pull_requests_lack_node_ids() {
    // Check runs list their pull requests as minimal objects, without node_id, in every era.
    let run = json!({
        "id": 4, "node_id": "MDg6Q2hlY2tSdW40", "head_sha": "ce587453ced02b1526dfb4cb910479d431683101", "external_id": "",
        "url": "https://api.github.com/repos/github/hello-world/check-runs/4", "html_url": "https://github.com/github/hello-world/runs/4",
        "details_url": "https://example.com", "status": "completed", "conclusion": "neutral",
        "started_at": "2018-05-04T01:14:52Z", "completed_at": "2018-05-04T01:14:52Z", "name": "mighty_readme",
        "output": {"title": "Mighty Readme report", "summary": "There are 0 failures.", "text": null, "annotations_count": 0, "annotations_url": "u"},
        "check_suite": {"id": 5}, "app": null,
        "pull_requests": [{"url": "https://api.github.com/repos/github/hello-world/pulls/1", "id": 1934, "number": 3956,
            "head": {"ref": "say-hello", "sha": "3dca65fa3e8d4b3da3f3d056c59aee1c50f41390", "repo": {"id": 526, "url": "https://api.github.com/repos/github/hello-world", "name": "hello-world"}},
            "base": {"ref": "master", "sha": "e7fdf7640066d71ad16a86fbcbb9c6a10a18af4f", "repo": {"id": 526, "url": "https://api.github.com/repos/github/hello-world", "name": "hello-world"}}}]
    });
    let run: github_rest::types::CheckRun =
        serde_json::from_value(run).expect("a check run decodes");
    assert_eq!(run.pull_requests[0].number, 3956);
}
