//! The tracing span of a call, in a test binary of its own: tracing's callsite interest is process-wide, and tests
//! without a subscriber running in parallel threads of one binary can leave a callsite disabled for this one.

use std::sync::{Arc, Mutex};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[path = "common/mw.rs"]
mod mw;
use mw::{client, config, seq};

/// Collects what the fmt subscriber writes.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn tracing_span_carries_operation_status_attempt_and_rate_limit() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(seq([
            ResponseTemplate::new(502),
            ResponseTemplate::new(404)
                .insert_header("x-ratelimit-remaining", "4321")
                .insert_header("x-ratelimit-reset", "1700000000")
                .set_body_string(r#"{"message":"Not Found"}"#),
        ]))
        .mount(&server)
        .await;
    let sink = Sink::default();
    let w = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || w.clone())
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let gh = github_rest::Client::builder()
        .base_url(server.uri())
        .http_client(client(&config()))
        .build()
        .unwrap();
    let err = gh.apps().get_authenticated().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    let out = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let close = out
        .lines()
        .find(|l| l.contains("github.request") && l.contains("close"))
        .expect(&out);
    for want in [
        "operation=\"apps/get-authenticated\"",
        "method=GET",
        "status=404",
        "attempt=2",
        "ratelimit.remaining=4321",
        "ratelimit.reset=1700000000",
    ] {
        assert!(close.contains(want), "{want} missing in {close}");
    }
}
