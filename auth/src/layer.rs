//! The reqwest-middleware layer that puts the right credential on each request, and only on requests to the
//! configured GitHub hosts.

use crate::app_jwt::AppJwt;
use crate::error::AuthError;
use crate::installation::InstallationTokens;
use crate::middleware::{identity_of, CredentialId, SendTimeToken};
use crate::token::TokenSource;
use github_rest::{AuthKind, Hosts, OperationInfo};
use http::{Extensions, HeaderValue, StatusCode};
use reqwest_middleware::{Middleware, Next};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;

/// Which credentials a client holds.
#[derive(Clone)]
pub(crate) enum Credential {
    /// A bearer token for every request.
    Token(TokenSource),
    /// The app's JWT for every request.
    App(AppJwt),
    /// The installation's token; the app's JWT for operations that take one.
    Installation {
        app: AppJwt,
        tokens: InstallationTokens,
    },
    /// `Basic` client id and secret for every request.
    Basic(SecretString),
}

/// How a 401 right after minting an installation token is retried (GitHub may not have replicated it yet).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LagRetry {
    /// A 401 within this long of minting counts as replication lag.
    pub(crate) window: Duration,
    /// Retries with the same token.
    pub(crate) retries: u32,
    /// First delay, doubled each retry.
    pub(crate) delay: Duration,
}

impl Default for LagRetry {
    fn default() -> Self {
        LagRetry {
            window: Duration::from_secs(10),
            retries: 3,
            delay: Duration::from_millis(250),
        }
    }
}

/// The authentication middleware. Add it to a `reqwest_middleware::ClientBuilder` before other layers so retries
/// and caches below it see authenticated requests.
#[derive(Clone)]
pub struct AuthLayer {
    pub(crate) credential: Credential,
    pub(crate) hosts: Hosts,
    pub(crate) lag: LagRetry,
    /// A fixed token's `Authorization` value and credential key, made once rather than on every request.
    fixed: Option<(HeaderValue, Arc<str>)>,
}

impl std::fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match &self.credential {
            Credential::Token(TokenSource::Static(_)) => "token",
            Credential::Token(TokenSource::User(_)) => "user token",
            Credential::App(_) => "app",
            Credential::Installation { .. } => "installation",
            Credential::Basic(_) => "oauth app",
        };
        f.debug_struct("AuthLayer")
            .field("mode", &mode)
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

fn auth_value(value: &str) -> Result<HeaderValue, AuthError> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| AuthError::Config("credential is not a valid header value".into()))?;
    // Marked sensitive so `Debug` of the headers (and HTTP/2 header compression) leaves it out.
    v.set_sensitive(true);
    Ok(v)
}

fn set_auth(req: &mut reqwest::Request, value: &str) -> reqwest_middleware::Result<()> {
    let v = auth_value(value).map_err(mw)?;
    req.headers_mut().insert(http::header::AUTHORIZATION, v);
    Ok(())
}

/// Names the request's credential for the layers below (cache, rate limits, gate), so none of them hashes the
/// `Authorization` header again.
fn name_credential(req: &reqwest::Request, extensions: &mut Extensions) {
    if let Some(v) = req.headers().get(http::header::AUTHORIZATION) {
        extensions.insert(CredentialId(Arc::from(identity_of(v))));
    }
}

pub(crate) fn bearer(
    req: &mut reqwest::Request,
    token: &SecretString,
) -> reqwest_middleware::Result<()> {
    set_auth(req, &format!("Bearer {}", token.expose_secret()))
}

fn mw(e: AuthError) -> reqwest_middleware::Error {
    reqwest_middleware::Error::Middleware(e.into())
}

impl AuthLayer {
    pub(crate) fn new(credential: Credential, hosts: Hosts, lag: LagRetry) -> Self {
        let fixed = match &credential {
            Credential::Token(TokenSource::Static(t)) => {
                auth_value(&format!("Bearer {}", t.expose_secret()))
                    .ok()
                    .map(|v| {
                        let id = Arc::from(identity_of(&v));
                        (v, id)
                    })
            }
            _ => None,
        };
        AuthLayer {
            credential,
            hosts,
            lag,
            fixed,
        }
    }

    async fn send_installation(
        &self,
        tokens: &InstallationTokens,
        req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let template = req.try_clone();
        extensions.insert(crate::middleware::CredentialId(tokens.credential_id()));
        let mut token = tokens.current().await.map_err(mw)?;
        let mut req = req;
        bearer(&mut req, &token.token)?;
        extensions.insert(SendTimeToken {
            tokens: tokens.clone(),
            token: token.clone(),
        });
        let mut resp = next.clone().run(req, extensions).await?;
        // The gate may have sent a newer token than the one set here.
        if let Some(sent) = extensions.get::<SendTimeToken>() {
            token = sent.token.clone();
        }
        let Some(template) = template else {
            return Ok(resp);
        };
        let again = |t: &SecretString| -> reqwest_middleware::Result<reqwest::Request> {
            let mut r = template
                .try_clone()
                .ok_or_else(|| mw(AuthError::Config("request cannot be repeated".into())))?;
            bearer(&mut r, t)?;
            Ok(r)
        };
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        if tokens.just_minted(&token, self.lag.window) {
            let mut delay = self.lag.delay;
            for attempt in 1..=self.lag.retries {
                tracing::debug!(
                    attempt,
                    "401 right after minting the installation token; retrying (replication lag)"
                );
                // Let go of the refusal first: its body holds a slot of the send gate that the re-send may need.
                drop(resp);
                tokio::time::sleep(delay).await;
                delay *= 2;
                resp = next.clone().run(again(&token.token)?, extensions).await?;
                if resp.status() != StatusCode::UNAUTHORIZED {
                    break;
                }
            }
            return Ok(resp);
        }
        tracing::debug!(
            installation_id = tokens.installation_id(),
            "installation token refused (revoked?); minting a new one once"
        );
        // The refusal is not returned: drop it, and the gate slot it holds, before sending again.
        drop(resp);
        token = tokens.replace(&token).await.map_err(mw)?;
        extensions.insert(SendTimeToken {
            tokens: tokens.clone(),
            token: token.clone(),
        });
        next.run(again(&token.token)?, extensions).await
    }
}

#[async_trait::async_trait]
impl Middleware for AuthLayer {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let kind = extensions.get::<OperationInfo>().map(|o| o.auth);
        // A hop of a redirect-following layer in the stack runs through here again with the same extensions (the
        // client's own hops start afresh): a hop sent without a credential must not be counted against the one an
        // earlier hop carried.
        extensions.remove::<CredentialId>();
        if kind == Some(AuthKind::None) {
            return next.run(req, extensions).await;
        }
        if !self.hosts.allows(req.url()) {
            // A next-page link or a user-built URL on another host: send it, but without our credential.
            tracing::debug!(
                host = req.url().host_str().unwrap_or(""),
                "not sending credentials to a host other than the configured GitHub hosts"
            );
            return next.run(req, extensions).await;
        }
        match &self.credential {
            Credential::Basic(h) => {
                set_auth(&mut req, h.expose_secret())?;
                name_credential(&req, extensions);
                next.run(req, extensions).await
            }
            Credential::App(jwt) => {
                bearer(&mut req, &jwt.token().map_err(mw)?)?;
                name_credential(&req, extensions);
                next.run(req, extensions).await
            }
            Credential::Installation { app, tokens } => {
                if kind == Some(AuthKind::AppJwt) {
                    bearer(&mut req, &app.token().map_err(mw)?)?;
                    name_credential(&req, extensions);
                    return next.run(req, extensions).await;
                }
                Box::pin(self.send_installation(tokens, req, extensions, next)).await
            }
            Credential::Token(TokenSource::Static(_)) if self.fixed.is_some() => {
                let (value, id) = self.fixed.clone().expect("checked");
                req.headers_mut().insert(http::header::AUTHORIZATION, value);
                extensions.insert(CredentialId(id));
                next.run(req, extensions).await
            }
            // Boxed: the future of a token that may be renewed is large, and the common paths above should not
            // carry its size (every call's future is allocated at the size of its largest path).
            Credential::Token(source) => {
                Box::pin(self.send_token(source, req, extensions, next)).await
            }
        }
    }
}

impl AuthLayer {
    async fn send_token(
        &self,
        source: &TokenSource,
        mut req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let template = req.try_clone();
        let token = source.get().await.map_err(mw)?;
        bearer(&mut req, &token)?;
        name_credential(&req, extensions);
        let resp = next.clone().run(req, extensions).await?;
        if resp.status() != StatusCode::UNAUTHORIZED || !matches!(source, TokenSource::User(_)) {
            return Ok(resp);
        }
        let Some(mut again) = template else {
            return Ok(resp);
        };
        // An expiring user token GitHub refused before we thought it expired: renew once.
        let resp = crate::middleware::buffer(resp).await?.0;
        match source.renew_after_rejection(&token).await.map_err(mw)? {
            Some(t) => {
                drop(resp);
                bearer(&mut again, &t)?;
                name_credential(&again, extensions);
                next.run(again, extensions).await
            }
            None => Ok(resp),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn raw_requests_to_other_hosts_carry_no_credential() {
        use wiremock::{matchers::any, Mock, MockServer, ResponseTemplate};
        let api = MockServer::start().await;
        let other = MockServer::start().await;
        for s in [&api, &other] {
            Mock::given(any())
                .respond_with(ResponseTemplate::new(200))
                .mount(s)
                .await;
        }
        let layer = AuthLayer::new(
            Credential::Token(TokenSource::Static(SecretString::from("ghp_x"))),
            Hosts::new(&[&api.uri()]).unwrap(),
            LagRetry::default(),
        );
        let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(layer)
            .build();
        // An absolute next-page URL: same path, another host.
        http.get(format!("{}/app/installations?page=2", other.uri()))
            .send()
            .await
            .unwrap();
        http.get(format!("{}/app/installations?page=2", api.uri()))
            .send()
            .await
            .unwrap();
        let o = other.received_requests().await.unwrap();
        let a = api.received_requests().await.unwrap();
        assert!(o[0].headers.get("authorization").is_none());
        assert_eq!(a[0].headers.get("authorization").unwrap(), "Bearer ghp_x");
    }
}
