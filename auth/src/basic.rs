//! HTTP Basic authentication with an OAuth app's client id and secret, for the `/applications/{client_id}/…`
//! endpoints (check, reset, delete and scope a token; delete a grant).

use crate::token::ClientCredentials;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};

/// The `Authorization` value `Basic base64(client_id:client_secret)`. Credentials go in this header only, never in
/// the query string, where proxies and server logs would keep them.
pub(crate) fn basic_header(creds: &ClientCredentials) -> SecretString {
    let raw = format!(
        "{}:{}",
        creds.client_id,
        creds.client_secret.expose_secret()
    );
    SecretString::from(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_client_id_and_secret() {
        let h = basic_header(&ClientCredentials::new("Iv1.abc", "s3cret"));
        // base64("Iv1.abc:s3cret")
        assert_eq!(h.expose_secret(), "Basic SXYxLmFiYzpzM2NyZXQ=");
    }
}
