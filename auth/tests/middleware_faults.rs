//! Fault injection on a tiny loopback TCP server (connection resets, truncated bodies, hangs) and wiremock
//! (bursts of 5xx, non-JSON errors): the layers never panic and give up with a typed error.

use github_auth::middleware::{MiddlewareConfig, MiddlewareError, RetryConfig};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Read the request, then reset the connection.
    Reset,
    /// Promise 100 bytes, send 10, close.
    Truncate,
    /// Read the request and never answer.
    Hang,
    /// A complete 200.
    Ok,
}

/// Serves one connection per fault in turn (the last repeats) and counts connections.
async fn serve(faults: Vec<Fault>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let n = c.fetch_add(1, Ordering::SeqCst);
            let fault = faults[n.min(faults.len() - 1)];
            tokio::spawn(handle(sock, fault));
        }
    });
    (format!("http://{addr}"), count)
}

async fn handle(mut sock: TcpStream, fault: Fault) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    match fault {
        Fault::Reset => {
            sock.set_zero_linger().unwrap();
            drop(sock);
        }
        Fault::Truncate => {
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\nconnection: close\r\n\r\n{\"login\":")
                .await;
            let _ = sock.shutdown().await;
        }
        Fault::Hang => {
            // Keep the connection open until the client gives up.
            let _ = sock.read(&mut chunk).await;
        }
        Fault::Ok => {
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                .await;
            let _ = sock.shutdown().await;
        }
    }
}

fn config() -> MiddlewareConfig {
    MiddlewareConfig::default()
        .cache(None)
        .retry(Some(RetryConfig {
            base_delay: Duration::from_millis(100),
            jitter: false,
            ..RetryConfig::default()
        }))
}

fn client(timeout: Option<Duration>) -> reqwest_middleware::ClientWithMiddleware {
    let mut b = reqwest::Client::builder().pool_idle_timeout(None);
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    config()
        .install(reqwest_middleware::ClientBuilder::new(b.build().unwrap()))
        .build()
}

fn exhausted(e: reqwest_middleware::Error) -> (u32, reqwest::Error) {
    let reqwest_middleware::Error::Middleware(a) = e else {
        panic!("expected a middleware error: {e:?}")
    };
    match a.downcast::<MiddlewareError>().expect("a MiddlewareError") {
        MiddlewareError::RetriesExhausted {
            attempts,
            source: reqwest_middleware::Error::Reqwest(r),
        } => (attempts, r),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn connection_reset_is_retried() {
    let (url, conns) = serve(vec![Fault::Reset, Fault::Reset, Fault::Ok]).await;
    let r = client(None).get(&url).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "{}");
    assert_eq!(conns.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn connection_reset_every_time_gives_up_typed() {
    let (url, conns) = serve(vec![Fault::Reset]).await;
    let (attempts, _) = exhausted(client(None).get(&url).send().await.unwrap_err());
    assert_eq!(attempts, 4);
    assert_eq!(conns.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn connection_reset_on_post_is_not_retried() {
    let (url, conns) = serve(vec![Fault::Reset, Fault::Ok]).await;
    let e = client(None).post(&url).body("{}").send().await.unwrap_err();
    assert!(matches!(e, reqwest_middleware::Error::Reqwest(_)), "{e:?}");
    assert_eq!(conns.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn truncated_body_is_retried() {
    let (url, conns) = serve(vec![Fault::Truncate, Fault::Ok]).await;
    let r = client(None).get(&url).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "{}");
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn truncated_body_every_time_gives_up_typed() {
    let (url, conns) = serve(vec![Fault::Truncate]).await;
    let (attempts, source) = exhausted(client(None).get(&url).send().await.unwrap_err());
    assert_eq!(attempts, 4);
    assert!(
        source.is_body() || source.is_decode() || source.is_request(),
        "{source:?}"
    );
    assert_eq!(conns.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn slow_response_times_out_then_gives_up_typed() {
    let (url, conns) = serve(vec![Fault::Hang]).await;
    let (attempts, source) = exhausted(
        client(Some(Duration::from_secs(10)))
            .get(&url)
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(attempts, 4);
    assert!(source.is_timeout(), "{source:?}");
    assert_eq!(conns.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn slow_response_then_recovery() {
    let (url, conns) = serve(vec![Fault::Hang, Fault::Ok]).await;
    let r = client(Some(Duration::from_secs(10)))
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn burst_of_5xx_with_non_json_bodies_reaches_the_caller_as_api_error() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(503).set_body_raw("<html><h1>Unicorn!</h1></html>", "text/html"),
        )
        .mount(&server)
        .await;
    let http = config()
        .install(reqwest_middleware::ClientBuilder::new(
            reqwest::Client::new(),
        ))
        .build();
    let gh = github_rest::Client::builder()
        .base_url(server.uri())
        .http_client(http)
        .build()
        .unwrap();
    let err = gh.apps().get_authenticated().await.unwrap_err();
    let api = err.api().expect("an API error");
    assert_eq!(api.status, 503);
    assert_eq!(&api.raw[..], b"<html><h1>Unicorn!</h1></html>");
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn secondary_limit_with_empty_and_garbage_bodies_does_not_panic() {
    let server = MockServer::start().await;
    // A 403 with retry-after but a body that is not JSON, then a 429 with an empty body: both are secondary
    // limits, recognised by the header.
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("retry-after", "2")
                .set_body_string("\u{0}\u{ff}garbage"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "not-a-number"))
        .mount(&server)
        .await;
    let c = config()
        .install(reqwest_middleware::ClientBuilder::new(
            reqwest::Client::new(),
        ))
        .build();
    // The second answer's retry-after does not parse and there is no message: it is passed on as it is.
    let r = c.get(server.uri()).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}
