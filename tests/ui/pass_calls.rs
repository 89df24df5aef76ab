// Correct calls compile: path parameters, a query struct, a request body.
use github_rest::types::IssuesCreateRequest;
use github_rest::issues::IssuesListForRepoQuery;

async fn calls(client: github_rest::Client) -> Result<(), github_rest::Error> {
    client.repos().get("octocat", "Hello-World").await?;
    client.issues().get("octocat", "Hello-World", 1347).await?;
    let body = IssuesCreateRequest::new("t").labels(["bug"]).assignees(["octocat"]);
    client.issues().create("octocat", "Hello-World", &body).await?;
    let q = IssuesListForRepoQuery::new().state("open").labels("bug").per_page(100);
    client.issues().list_for_repo("octocat", "Hello-World", &q).await?;
    Ok(())
}

fn main() {
    let _ = calls;
}
