// Correct calls compile: path parameters, a query struct, a request body.
use github_rest::types::{IssuesCreateRequest, IntegerOrString};

async fn calls(client: github_rest::Client) -> Result<(), github_rest::Error> {
    client.repos().get("octocat", "Hello-World").await?;
    client.issues().get("octocat", "Hello-World", 1347).await?;
    let body = IssuesCreateRequest::new(IntegerOrString::String("t".into()));
    client.issues().create("octocat", "Hello-World", &body).await?;
    Ok(())
}

fn main() {
    let _ = calls;
}
