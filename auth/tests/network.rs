//! Enterprise networks: a GHES behind an internal certificate authority (a loopback TLS server whose certificate a
//! self-signed CA issued) and an HTTP proxy (a loopback proxy in front of hosts that do not resolve), for the API
//! and the web host alike.

use github_auth::oauth::{AuthorizeRequest, SignIn};
use github_auth::{AuthBuilder, AuthError, SecretString};
use github_rest::HttpConfig;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

const ISSUE: &str = include_str!("../../tests/data/issue.json");

/// Reads one request head and answers it by path: an issue, or an OAuth token. Returns the request line.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return String::new(),
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let line = text.lines().next().unwrap_or_default().to_string();
    let body = if line.contains("/login/oauth/access_token") {
        r#"{"access_token":"ghu_proxied","token_type":"bearer","scope":""}"#
    } else {
        ISSUE
    };
    let resp = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(resp.as_bytes()).await;
    let _ = s.shutdown().await;
    line
}

/// A CA and a certificate it issued for 127.0.0.1 and localhost: (CA PEM, server config).
fn pki() -> (String, rustls::ServerConfig) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Corp Internal Root CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    (ca_cert.pem(), config)
}

/// A TLS server on loopback answering with `answer`.
async fn tls_server(config: rustls::ServerConfig) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(sock).await {
                    answer(tls).await;
                }
            });
        }
    });
    addr
}

fn client(base: &str, http: HttpConfig) -> Result<github_rest::Client, AuthError> {
    AuthBuilder::token(SecretString::from("ghp_x"))
        .base_url(base)
        .user_agent("network-test")
        .http_config(http)
        .build()
}

#[tokio::test]
async fn a_ghes_behind_an_internal_ca_is_trusted_once_its_root_is_added() {
    let (ca_pem, config) = pki();
    let addr = tls_server(config).await;
    let base = format!("https://{addr}/api/v3");

    // The built-in web roots do not know the corporate CA.
    let err = client(&base, HttpConfig::default())
        .unwrap()
        .issues()
        .get("o", "r", 1)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, github_rest::Error::Http(_)), "{text}");
    assert!(text.to_lowercase().contains("certificate"), "{text}");

    let trusted = HttpConfig::default()
        .add_root_certificates_pem(ca_pem.as_bytes())
        .unwrap();
    let issue = client(&base, trusted)
        .unwrap()
        .issues()
        .get("o", "r", 1)
        .await;
    assert!(issue.is_ok(), "{:?}", issue.err());

    // A bundle that is not PEM is a configuration error, not a panic.
    let bad = HttpConfig::default().add_root_certificates_pem(b"not a certificate");
    assert!(matches!(bad, Err(github_rest::Error::Config(_))));
}

#[tokio::test]
async fn a_proxy_carries_api_and_web_host_requests() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let line = answer(sock).await;
                seen.lock().unwrap().push(line);
            });
        }
    });
    // Neither host resolves: only the proxy can answer.
    let network = HttpConfig::default().proxy(format!("http://{proxy}"));
    let api = client("http://ghe.invalid/api/v3", network.clone()).unwrap();
    api.issues().get("o", "r", 1).await.unwrap();
    let sign_in = SignIn::builder("Iv1.abc")
        .client_secret(SecretString::from("s"))
        .web_url("http://ghe.invalid")
        .http_config(network)
        .build()
        .unwrap();
    let pending = sign_in.authorize(AuthorizeRequest::new());
    sign_in
        .exchange_code(&pending, pending.state(), "code")
        .await
        .unwrap();
    let lines = lines.lock().unwrap().clone();
    assert!(
        lines.contains(&"GET http://ghe.invalid/api/v3/repos/o/r/issues/1 HTTP/1.1".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"POST http://ghe.invalid/login/oauth/access_token HTTP/1.1".to_string()),
        "{lines:?}"
    );
    // Without the proxy the same call cannot reach anything.
    let direct = client(
        "http://ghe.invalid/api/v3",
        HttpConfig::default().no_proxy(),
    )
    .unwrap();
    assert!(direct.issues().get("o", "r", 1).await.is_err());
}
