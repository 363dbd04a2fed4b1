//! Access tokens: short-lived JWTs (HS256 or RS256) minted for an API key, checked for
//! signature, `exp`, `nbf`, `iss` and `aud`.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sp_core::auth::Scope;
use sp_core::config::JwtConfig;
use sp_core::{Error, Result};

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The API key it was minted for.
    pub sub: String,
    /// Its scopes (at most the key's).
    pub scopes: Vec<Scope>,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// Expiry.
    pub exp: u64,
}

/// Mints and checks access tokens.
pub struct Jwt {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    audience: String,
    access_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn key_error(key: &str, err: impl std::fmt::Display) -> Error {
    Error::Config {
        key: key.into(),
        reason: err.to_string(),
    }
}

impl Jwt {
    /// The configured signer, or `None` when JWT is off.
    pub fn from_config(config: &JwtConfig) -> Result<Option<Jwt>> {
        let (algorithm, encoding, decoding) = match (
            &config.hs256_secret,
            &config.rs256_private_key,
            &config.rs256_public_key,
        ) {
            (Some(secret), _, _) => (
                Algorithm::HS256,
                EncodingKey::from_secret(secret.as_bytes()),
                DecodingKey::from_secret(secret.as_bytes()),
            ),
            (None, Some(private), Some(public)) => {
                let read = |key: &str, path: &std::path::Path| {
                    std::fs::read(path)
                        .map_err(|err| key_error(key, format!("{}: {err}", path.display())))
                };
                let private_pem = read("auth.jwt.rs256_private_key", private)?;
                let public_pem = read("auth.jwt.rs256_public_key", public)?;
                (
                    Algorithm::RS256,
                    EncodingKey::from_rsa_pem(&private_pem)
                        .map_err(|e| key_error("auth.jwt.rs256_private_key", e))?,
                    DecodingKey::from_rsa_pem(&public_pem)
                        .map_err(|e| key_error("auth.jwt.rs256_public_key", e))?,
                )
            }
            _ => return Ok(None),
        };
        Ok(Some(Jwt {
            algorithm,
            encoding,
            decoding,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            access_ttl: Duration::from_secs(config.access_ttl_secs),
            refresh_ttl: Duration::from_secs(config.refresh_ttl_secs),
        }))
    }

    /// Seconds an access token lives.
    pub fn access_ttl_secs(&self) -> u64 {
        self.access_ttl.as_secs()
    }

    /// An access token for `key_id` with `scopes`.
    pub fn mint(&self, key_id: &str, scopes: &[Scope]) -> Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: key_id.to_owned(),
            scopes: scopes.to_vec(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + self.access_ttl.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(self.algorithm), &claims, &self.encoding)
            .map_err(|err| Error::internal(format!("cannot sign a token: {err}")))
    }

    /// The claims of a valid token; `None` for a forged, expired, premature or foreign one.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(self.algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation) {
            Ok(data) => Some(data.claims),
            Err(err) => {
                tracing::info!(%err, "access token refused");
                None
            }
        }
    }
}
