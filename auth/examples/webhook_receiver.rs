//! A webhook receiver that keeps a local store of issues in sync with GitHub.
//!
//! It verifies each delivery's signature, answers at once (202; GitHub gives up after 10 seconds) and hands the
//! event to a worker task. The worker applies `issues` events to the store and, for `issue_comment` events, calls the
//! API back for the issue's current state, which the comment's payload does not carry reliably (labels, state and
//! the comment count may have moved since). A redelivery (same `X-GitHub-Delivery`) is answered but not processed
//! twice; an event the SDK does not know is logged and kept.
//!
//! Run it (no network: a local mock plays the API, and the deliveries in `auth/tests/data/webhooks/` are replayed
//! to the receiver, signed with a test secret):
//!
//! ```sh
//! cargo run -p github-auth --features webhooks --example webhook_receiver
//! ```

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use github_auth::webhooks::{sign, Delivery, Redeliveries, WebhookError, WebhookSecrets};
use github_rest::webhooks::WebhookEvent;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The secret the replayed deliveries are signed with.
pub const TEST_SECRET: &str = "webhook-test-secret";

/// The receiving side: secrets, the redelivery memory and the queue to the worker.
pub struct Receiver {
    secrets: WebhookSecrets,
    seen: Redeliveries,
    queue: mpsc::Sender<Delivery>,
}

/// An issue as the local store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueRecord {
    pub title: String,
    pub state: String,
    pub comments: i64,
    pub last_comment: Option<String>,
}

/// What the worker did with a delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Processed {
    Synced { delivery: String },
    Unknown { delivery: String, event: String },
    Ignored { delivery: String, event: String },
    Failed { delivery: String, error: String },
}

/// The local store: issues by (repository, number), and what was done with each delivery, in order.
#[derive(Debug, Default)]
pub struct Store {
    pub issues: Mutex<BTreeMap<(String, i64), IssueRecord>>,
    pub processed: Mutex<Vec<Processed>>,
}

/// The HTTP route: `POST /webhooks`.
pub fn router(receiver: Arc<Receiver>) -> Router {
    Router::new()
        .route("/webhooks", post(receive))
        .with_state(receiver)
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let delivery = match r.secrets.receive(&headers, &body) {
        Ok(d) => d,
        Err(e @ WebhookError::Decode { .. }) => {
            tracing::warn!(error = %e, "authentic delivery whose payload does not decode");
            return (StatusCode::BAD_REQUEST, "payload does not decode");
        }
        Err(e) => {
            tracing::warn!(error = %e, "delivery refused");
            return (StatusCode::UNAUTHORIZED, "signature not valid");
        }
    };
    if !r.seen.first_time(&delivery.id) {
        tracing::info!(delivery = %delivery.id, "redelivery of a delivery already taken; not processed again");
        return (StatusCode::OK, "already received");
    }
    let id = delivery.id.clone();
    match r.queue.try_send(delivery) {
        Ok(()) => (StatusCode::ACCEPTED, "queued"),
        Err(_) => {
            // Not taken: let GitHub's redelivery be processed.
            r.seen.forget(&id);
            (StatusCode::SERVICE_UNAVAILABLE, "busy")
        }
    }
}

/// Starts the worker task; returns the receiver to route to and the store it keeps.
pub fn start(secrets: WebhookSecrets, api: github_rest::Client) -> (Arc<Receiver>, Arc<Store>) {
    let (tx, mut rx) = mpsc::channel::<Delivery>(1024);
    let store = Arc::new(Store::default());
    let worker_store = store.clone();
    tokio::spawn(async move {
        while let Some(delivery) = rx.recv().await {
            let done = apply(&api, &worker_store, delivery).await;
            worker_store
                .processed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(done);
        }
    });
    let receiver = Arc::new(Receiver {
        secrets,
        seen: Redeliveries::new(10_000),
        queue: tx,
    });
    (receiver, store)
}

/// The fields the store keeps, from any of the payloads' issue types (each action has its own).
macro_rules! record {
    ($p:expr) => {
        (
            $p.repository.full_name.clone(),
            $p.issue.number,
            IssueRecord {
                title: $p.issue.title.clone(),
                state: state_text(&$p.issue.state),
                comments: $p.issue.comments,
                last_comment: None,
            },
        )
    };
}

trait StateText {
    fn text(&self) -> String;
}
impl<T: std::fmt::Display> StateText for Option<T> {
    fn text(&self) -> String {
        self.as_ref().map(|s| s.to_string()).unwrap_or_default()
    }
}
impl StateText for github_rest::types::MilestoneState {
    fn text(&self) -> String {
        self.to_string()
    }
}
fn state_text(s: &impl StateText) -> String {
    s.text()
}

async fn apply(api: &github_rest::Client, store: &Store, d: Delivery) -> Processed {
    let delivery = d.id.clone();
    let upsert = |(repo, number, record): (String, i64, IssueRecord)| {
        let mut issues = store.issues.lock().unwrap_or_else(|p| p.into_inner());
        let last_comment = issues
            .get(&(repo.clone(), number))
            .and_then(|r| r.last_comment.clone());
        issues.insert(
            (repo, number),
            IssueRecord {
                last_comment,
                ..record
            },
        );
    };
    match &d.event {
        WebhookEvent::IssuesOpened(p) => upsert(record!(p)),
        WebhookEvent::IssuesEdited(p) => upsert(record!(p)),
        WebhookEvent::IssuesReopened(p) => upsert(record!(p)),
        WebhookEvent::IssuesClosed(p) => upsert(record!(p)),
        WebhookEvent::IssuesDeleted(p) => {
            let key = (p.repository.full_name.clone(), p.issue.number);
            store
                .issues
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
        }
        WebhookEvent::IssueCommentCreated(p) => {
            let repo = p.repository.full_name.clone();
            let number = p.issue.number;
            let Some((owner, name)) = repo.split_once('/') else {
                return Processed::Failed {
                    delivery,
                    error: format!("repository name {repo:?}"),
                };
            };
            // The payload's copy of the issue is as of the comment; the API has the current one.
            let current = match api.issues().get(owner, name, number).await {
                Ok(r) => r.body,
                Err(e) => {
                    return Processed::Failed {
                        delivery,
                        error: e.to_string(),
                    }
                }
            };
            store
                .issues
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(
                    (repo, number),
                    IssueRecord {
                        title: current.title.clone(),
                        state: current.state.clone(),
                        comments: current.comments,
                        last_comment: Some(p.comment.body.clone()),
                    },
                );
        }
        e if e.is_unknown() => {
            tracing::warn!(delivery = %d.id, event = %d.event_name, action = ?e.action(), "event unknown to this SDK version; kept");
            return Processed::Unknown {
                delivery,
                event: d.event_name.clone(),
            };
        }
        _ => {
            return Processed::Ignored {
                delivery,
                event: d.event_name.clone(),
            }
        }
    }
    Processed::Synced { delivery }
}

/// One recorded delivery of `auth/tests/data/webhooks/deliveries.json`.
#[derive(Debug, serde::Deserialize)]
pub struct Recorded {
    pub file: String,
    pub event: String,
    pub delivery: String,
    pub hook_id: String,
    pub target_type: String,
    pub target_id: String,
    /// `good`: signed with [`TEST_SECRET`]; `bad`: signed with another secret.
    pub signature: String,
}

/// The directory of the recorded deliveries.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/webhooks")
}

/// Posts every recorded delivery to `url`, in order, as GitHub would; returns each delivery id with the status.
pub async fn replay(url: &str) -> anyhow::Result<Vec<(String, u16)>> {
    let dir = data_dir();
    let list: Vec<Recorded> = serde_json::from_slice(&std::fs::read(dir.join("deliveries.json"))?)?;
    let http = reqwest::Client::new();
    let good = SecretString::from(TEST_SECRET);
    let forged = SecretString::from("not-the-secret");
    let mut out = Vec::new();
    for r in list {
        let body = std::fs::read(dir.join(&r.file))?;
        let secret = if r.signature == "good" {
            &good
        } else {
            &forged
        };
        let response = http
            .post(url)
            .header("content-type", "application/json")
            .header("user-agent", "GitHub-Hookshot/test")
            .header("x-github-event", &r.event)
            .header("x-github-delivery", &r.delivery)
            .header("x-github-hook-id", &r.hook_id)
            .header("x-github-hook-installation-target-type", &r.target_type)
            .header("x-github-hook-installation-target-id", &r.target_id)
            .header("x-hub-signature-256", sign(secret, &body))
            .body(body)
            .send()
            .await?;
        out.push((r.delivery, response.status().as_u16()));
    }
    Ok(out)
}

/// A local mock of the API: the issue the `issue_comment` delivery refers to, answered after `delay`.
pub async fn mock_api(delay: Duration) -> anyhow::Result<wiremock::MockServer> {
    use wiremock::matchers::{method, path};
    let server = wiremock::MockServer::start().await;
    let issue = std::fs::read(data_dir().join("api-issue-1.json"))?;
    wiremock::Mock::given(method("GET"))
        .and(path("/repos/Codertocat/Hello-World/issues/1"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_raw(issue, "application/json")
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    Ok(server)
}

/// Serves the receiver on 127.0.0.1 (a free port); returns the webhook URL.
pub async fn serve(receiver: Arc<Receiver>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks", listener.local_addr()?);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(receiver)).await {
            tracing::error!(error = %e, "receiver stopped");
        }
    });
    Ok(url)
}

/// Waits (up to 5 s) until the worker has processed `n` deliveries.
pub async fn processed(store: &Store, n: usize) -> Vec<Processed> {
    for _ in 0..500 {
        let done = store
            .processed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if done.len() >= n {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    store
        .processed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

#[allow(
    dead_code,
    reason = "the delivery test includes this file for its receiver, not its `main`"
)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_target(false).init();
    let api = mock_api(Duration::from_millis(50)).await?;
    let client = github_auth::AuthBuilder::token(SecretString::from("ghs_local_mock_token"))
        .base_url(api.uri())
        .build()?;
    let (receiver, store) = start(WebhookSecrets::new(TEST_SECRET), client);
    let url = serve(receiver).await?;
    println!("receiver listening on {url}; replaying the recorded deliveries");
    let answers = replay(&url).await?;
    for (delivery, status) in &answers {
        println!("  {delivery} -> {status}");
    }
    let accepted = answers.iter().filter(|(_, s)| *s == 202).count();
    for p in processed(&store, accepted).await {
        println!("  processed: {p:?}");
    }
    for ((repo, number), issue) in store
        .issues
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
    {
        println!("  {repo}#{number}: {issue:?}");
    }
    Ok(())
}
