//! The proxy from the usual environment variables, in a test binary of its own (the environment is per process).

use github_auth::{AuthBuilder, SecretString};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ISSUE: &str = include_str!("../../tests/data/issue.json");

#[tokio::test]
async fn http_proxy_from_the_environment_is_used_by_default() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = lines.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&head).to_string();
            seen.lock()
                .unwrap()
                .push(text.lines().next().unwrap_or_default().to_string());
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{ISSUE}",
                ISSUE.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    for v in [
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
        "http_proxy",
    ] {
        std::env::remove_var(v);
    }
    std::env::set_var("HTTP_PROXY", format!("http://{proxy}"));
    let client = AuthBuilder::token(SecretString::from("ghp_x"))
        .base_url("http://ghe.invalid/api/v3")
        .user_agent("proxy-env-test")
        .build()
        .unwrap();
    client.issues().get("o", "r", 7).await.unwrap();
    assert_eq!(
        lines.lock().unwrap().as_slice(),
        ["GET http://ghe.invalid/api/v3/repos/o/r/issues/7 HTTP/1.1"]
    );
}
