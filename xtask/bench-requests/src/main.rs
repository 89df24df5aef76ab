//! Per-request cost of one GitHub call on loopback, one client per process, so that `perf stat` on the process
//! counts the client's work only. `cargo xtask bench` builds this in release, starts `serve` once, runs every
//! client mode under `perf stat -e instructions:u` with `N` requests and with none (the start-up and warm-up cost
//! cancels), and prints medians and ratios.
//!
//! ```text
//! bench-requests serve                                  print the port, then answer like api.github.com
//! bench-requests client MODE SCENARIO BASE N [WARMUP]   WARMUP requests, then N timed; prints the N's nanoseconds
//! ```
//!
//! Modes: `full` (github-auth's client with every middleware layer, the resource changing so every answer is a 200),
//! `full-304` (the same, the resource unchanged so GitHub answers 304 and the cache gives the body), `generated`
//! (github-rest's client on its default stack, no github-auth), `types` (raw reqwest, the body decoded into
//! github-rest's types), `value` (raw reqwest into `serde_json::Value`), `octocrab`; and for each layer's share of
//! the full stack, `auth` (github-auth's credential, no middleware) and `full-no-cache`, `full-no-rate-limit`,
//! `full-no-concurrency`, `full-no-retry`, `full-no-tracing` (every layer but one, each answer a 200).
//! Scenarios: `repo` (GET /repos/{owner}/{repo}) and `issues` (GET /repos/{owner}/{repo}/issues?per_page=100).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
const USER_AGENT: &str = "bench-requests";
/// The owner whose resources change between requests (a new ETag every time); any other owner's are unchanged.
const CHANGING: &str = "changing";
const OWNER: &str = "octokit-fixture-org";
const REPO: &str = "hello-world";

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match args.first().map(String::as_str) {
        Some("serve") => rt.block_on(serve()),
        Some("client") => {
            let [mode, scenario, base, n] = [1, 2, 3, 4].map(|i| args.get(i).cloned());
            let (Some(mode), Some(scenario), Some(base), Some(n)) = (mode, scenario, base, n)
            else {
                return Err("usage: bench-requests client MODE SCENARIO BASE N [WARMUP]".into());
            };
            let n: usize = n.parse()?;
            let warmup: usize = args.get(5).map(|w| w.parse()).transpose()?.unwrap_or(50);
            let elapsed = rt.block_on(client(&mode, &scenario, &base, n, warmup))?;
            println!("{}", elapsed.as_nanos());
            Ok(())
        }
        _ => Err("usage: bench-requests serve | client MODE SCENARIO BASE N [WARMUP]".into()),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The mock api.github.com

/// What the server answers with, built once.
struct Answers {
    repo: Vec<u8>,
    issues: Vec<u8>,
    reset: u64,
    requests: AtomicU64,
}

/// The issues fixture has three recorded issues; a page of 100 repeats them with their own ids, numbers, a body of
/// realistic length and a label, as a busy repository's first page looks.
fn issues_page() -> Vec<u8> {
    let recorded: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("../data/issues.json")).expect("fixture parses");
    let body = "### Describe the bug\n\nCalling `repos.get` on a renamed repository returns the old name in \
                `full_name` until the cache expires.\n\n### To reproduce\n\n1. Rename the repository\n2. Call the \
                endpoint twice within a minute\n\n### Expected behaviour\n\nThe new name, or a 301 with the new \
                location.\n\n### Environment\n\n- version: 0.4.2\n- OS: Linux\n";
    let label = serde_json::json!({
        "id": 4_229_172_551u64, "node_id": "LA_kwDOHrjr-88AAAAA_BXnRw",
        "url": "https://api.github.com/repos/octokit-fixture-org/hello-world/labels/bug",
        "name": "bug", "color": "d73a4a", "default": true, "description": "Something isn't working"
    });
    let page: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let mut issue = recorded[i % recorded.len()].clone();
            let number = 1000 - i as u64;
            issue["id"] = (1_310_000_000 + number).into();
            issue["number"] = number.into();
            issue["body"] = body.into();
            issue["labels"] = serde_json::json!([label.clone()]);
            issue["comments"] = ((i * 7) % 13).into();
            issue
        })
        .collect();
    serde_json::to_vec(&page).expect("serialises")
}

/// The headers api.github.com sends with a REST answer (recorded from real responses), in its order.
fn github_headers(
    a: &Answers,
    etag: &str,
    last_modified: Option<&str>,
    link: Option<&str>,
) -> String {
    let n = a.requests.fetch_add(1, Ordering::Relaxed);
    let mut h = String::with_capacity(2048);
    h.push_str("date: Sun, 22 Nov 2026 04:07:26 GMT\r\n");
    h.push_str("content-type: application/json; charset=utf-8\r\n");
    h.push_str("cache-control: private, max-age=60, s-maxage=60\r\n");
    h.push_str("vary: Accept, Authorization, Cookie, X-GitHub-OTP\r\n");
    h.push_str(&format!("etag: {etag}\r\n"));
    if let Some(lm) = last_modified {
        h.push_str(&format!("last-modified: {lm}\r\n"));
    }
    h.push_str("x-oauth-scopes: read:org, repo, workflow\r\n");
    h.push_str("x-accepted-oauth-scopes: repo\r\n");
    h.push_str("github-authentication-token-expiration: 2027-02-20 04:07:26 UTC\r\n");
    h.push_str("x-github-media-type: github.v3; format=json\r\n");
    if let Some(link) = link {
        h.push_str(&format!("link: {link}\r\n"));
    }
    h.push_str("x-github-api-version-selected: 2022-11-28\r\n");
    h.push_str("x-ratelimit-limit: 5000\r\n");
    h.push_str(&format!("x-ratelimit-remaining: {}\r\n", 4999 - n % 4000));
    h.push_str(&format!("x-ratelimit-reset: {}\r\n", a.reset));
    h.push_str(&format!("x-ratelimit-used: {}\r\n", 1 + n % 4000));
    h.push_str("x-ratelimit-resource: core\r\n");
    h.push_str(
        "access-control-expose-headers: ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, \
         X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, \
         X-Accepted-OAuth-Scopes, X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, \
         Deprecation, Sunset\r\n",
    );
    h.push_str("access-control-allow-origin: *\r\n");
    h.push_str("strict-transport-security: max-age=31536000; includeSubdomains; preload\r\n");
    h.push_str("x-frame-options: deny\r\n");
    h.push_str("x-content-type-options: nosniff\r\n");
    h.push_str("x-xss-protection: 0\r\n");
    h.push_str("referrer-policy: origin-when-cross-origin, strict-origin-when-cross-origin\r\n");
    h.push_str("content-security-policy: default-src 'none'\r\n");
    h.push_str("vary: Accept-Encoding, Accept, X-Requested-With\r\n");
    h.push_str("server: github.com\r\n");
    h.push_str(&format!(
        "x-github-request-id: C0DE:{:X}:{:X}:{:X}:6740A1B2\r\n",
        0x1a2b3 + n,
        0x4c5d6e + 3 * n,
        0x5f6a7b8 + 7 * n
    ));
    h
}

fn answer(a: &Answers, path: &str, if_none_match: Option<&str>) -> Vec<u8> {
    let path = path.split('?').next().unwrap_or(path);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (body, link, last_modified) = match parts.as_slice() {
        ["repos", _, _] => (&a.repo, None, Some("Tue, 19 Jul 2022 04:37:49 GMT")),
        ["repos", _, _, "issues"] => (
            &a.issues,
            Some(
                "<https://api.github.com/repositories/515435515/issues?per_page=100&page=2>; rel=\"next\", \
                 <https://api.github.com/repositories/515435515/issues?per_page=100&page=14>; rel=\"last\"",
            ),
            None,
        ),
        _ => {
            let b = br#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}"#;
            let mut out = format!(
                "HTTP/1.1 404 Not Found\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\n\r\n",
                b.len()
            )
            .into_bytes();
            out.extend_from_slice(b);
            return out;
        }
    };
    let changing = parts[1] == CHANGING;
    let etag = if changing {
        // A new representation every time: the cache stores every answer and never gets a 304.
        format!("W/\"{:064x}\"", a.requests.load(Ordering::Relaxed))
    } else {
        format!("W/\"{:064x}\"", body.len() as u64 * 2_654_435_761)
    };
    let headers = github_headers(a, &etag, last_modified, link);
    if !changing && if_none_match == Some(etag.as_str()) {
        return format!("HTTP/1.1 304 Not Modified\r\n{headers}\r\n").into_bytes();
    }
    let mut out = format!(
        "HTTP/1.1 200 OK\r\n{headers}content-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

async fn serve() -> Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?.port());
    let reset = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_secs()
        + 3600;
    let answers = Arc::new(Answers {
        repo: include_bytes!("../data/repository.json").to_vec(),
        issues: issues_page(),
        reset,
        requests: AtomicU64::new(0),
    });
    loop {
        let (sock, _) = listener.accept().await?;
        sock.set_nodelay(true)?;
        let answers = answers.clone();
        tokio::spawn(async move {
            let _ = connection(sock, &answers).await;
        });
    }
}

/// Serves one keep-alive connection: requests without bodies (GETs), answered in order.
async fn connection(mut sock: tokio::net::TcpStream, answers: &Answers) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if sock.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let mut lines = head.split("\r\n");
        let path = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("/")
            .to_string();
        let inm = lines.find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("if-none-match").then(|| v.trim())
        });
        let out = answer(answers, &path, inm);
        sock.write_all(&out).await?;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The clients

async fn client(
    mode: &str,
    scenario: &str,
    base: &str,
    n: usize,
    warmup: usize,
) -> Result<Duration> {
    // Every mode of github-auth but `full-304` asks for the changing resource: each answer is a 200 (stored by the
    // cache where it is on), so the modes differ only in the layers turned on.
    let auth_mode = mode == "auth" || mode.starts_with("full") || mode.starts_with("only-");
    let owner = if auth_mode && mode != "full-304" {
        CHANGING
    } else {
        OWNER
    };
    let issues = match scenario {
        "repo" => false,
        "issues" => true,
        s => return Err(format!("unknown scenario {s}").into()),
    };
    match mode {
        m if auth_mode => {
            let Some(config) = middleware(m) else {
                return Err(format!("unknown mode {m}").into());
            };
            let client = github_auth::AuthBuilder::token(github_auth::SecretString::from(TOKEN))
                .base_url(base)
                .user_agent(USER_AGENT)
                .middleware(config)
                .build()?;
            run(n, warmup, || ours(&client, owner, issues)).await
        }
        "generated" => {
            let client = github_rest::Client::builder()
                .base_url(base)
                .user_agent(USER_AGENT)
                .build()?;
            run(n, warmup, || ours(&client, owner, issues)).await
        }
        "types" | "value" => {
            let http = reqwest::Client::builder().build()?;
            let typed = mode == "types";
            run(n, warmup, || raw(&http, base, owner, issues, typed)).await
        }
        "octocrab" => {
            let oc = octocrab::Octocrab::builder()
                .base_uri(base)?
                .personal_token(TOKEN.to_string())
                .build()?;
            run(n, warmup, || octo(&oc, owner, issues)).await
        }
        m => Err(format!("unknown mode {m}").into()),
    }
}

/// The middleware of a github-auth mode: `full` and `full-304` every layer (the default), `auth` none (the
/// credential alone), `full-no-LAYER` every layer but one, so each layer's share of the full stack is the
/// difference.
fn middleware(mode: &str) -> Option<github_auth::middleware::MiddlewareConfig> {
    use github_auth::middleware::MiddlewareConfig;
    let full = MiddlewareConfig::default();
    Some(match mode {
        "full" | "full-304" => full,
        "auth" => MiddlewareConfig::none(),
        "full-no-cache" => full.cache(None),
        "full-no-rate-limit" => full.rate_limit(None),
        "full-no-concurrency" => full.concurrency(None),
        "full-no-retry" => full.retry(None),
        "full-no-tracing" => full.tracing(false),
        "only-cache" => MiddlewareConfig::none().cache(full.cache.clone()),
        "only-rate-limit" => MiddlewareConfig::none().rate_limit(full.rate_limit.clone()),
        "only-concurrency" => MiddlewareConfig::none().concurrency(full.concurrency.clone()),
        "only-retry" => MiddlewareConfig::none().retry(full.retry.clone()),
        "only-tracing" => MiddlewareConfig::none().tracing(true),
        _ => return None,
    })
}

/// `warmup` calls (the connection opened, caches and allocator warm), then `n` timed calls.
async fn run<F, Fut>(n: usize, warmup: usize, mut call: F) -> Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<usize>>,
{
    for _ in 0..warmup {
        black_box(call().await?);
    }
    let start = Instant::now();
    for _ in 0..n {
        black_box(call().await?);
    }
    Ok(start.elapsed())
}

async fn ours(client: &github_rest::Client, owner: &str, issues: bool) -> Result<usize> {
    if issues {
        let query = github_rest::issues::IssuesListForRepoQuery::new().per_page(100);
        let r = client.issues().list_for_repo(owner, REPO, &query).await?;
        Ok(r.body.len())
    } else {
        let r = client.repos().get(owner, REPO).await?;
        Ok(r.body.id as usize)
    }
}

/// What a hand-written client does: the same headers as github-rest sends, the body read and decoded.
async fn raw(
    http: &reqwest::Client,
    base: &str,
    owner: &str,
    issues: bool,
    typed: bool,
) -> Result<usize> {
    let url = if issues {
        format!("{base}/repos/{owner}/{REPO}/issues?per_page=100")
    } else {
        format!("{base}/repos/{owner}/{REPO}")
    };
    let resp = http
        .get(url)
        .header("accept", "application/vnd.github+json")
        .header("user-agent", USER_AGENT)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("x-github-api-version", "2022-11-28")
        .send()
        .await?;
    if !resp.status().is_success() {
        return Err(format!("status {}", resp.status()).into());
    }
    let body = resp.bytes().await?;
    Ok(match (typed, issues) {
        (true, true) => serde_json::from_slice::<Vec<github_rest::types::Issue>>(&body)?.len(),
        (true, false) => {
            serde_json::from_slice::<github_rest::types::FullRepository>(&body)?.id as usize
        }
        (false, _) => {
            let v: serde_json::Value = serde_json::from_slice(&body)?;
            v.as_array().map_or(1, Vec::len)
        }
    })
}

async fn octo(oc: &octocrab::Octocrab, owner: &str, issues: bool) -> Result<usize> {
    if issues {
        let page = oc.issues(owner, REPO).list().per_page(100).send().await?;
        Ok(page.items.len())
    } else {
        let r = oc.repos(owner, REPO).get().await?;
        Ok(r.id.0 as usize)
    }
}
