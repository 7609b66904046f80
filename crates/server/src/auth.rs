//! Identity: client-credentials tokens, as Marketo's `/identity/oauth/token` issues them.
//!
//! One client (id and secret from the options). A token is 32 random bytes from the
//! operating system, in hex; it lives `token_ttl_secs`, and asking again while it is valid
//! returns the same token with its remaining lifetime, as Marketo does. A few recently
//! expired tokens are remembered so that they get 602 (expired) rather than 601.

use crate::api::{ApiError, ErrorCode};
use crate::sync::Mutex;
use rand::RngCore;
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

const EXPIRED_REMEMBERED_MAX: usize = 64;

/// Why the identity endpoint refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdentityError {
    /// `grant_type` missing or not `client_credentials`.
    UnsupportedGrant,
    /// Unknown client id.
    UnknownClient,
    /// Wrong secret.
    BadCredentials,
}

impl IdentityError {
    pub(crate) fn oauth_error(self) -> (&'static str, &'static str) {
        match self {
            IdentityError::UnsupportedGrant => ("unsupported_grant_type", "Unsupported grant type"),
            IdentityError::UnknownClient => ("invalid_client", "No client with requested id"),
            IdentityError::BadCredentials => ("unauthorized", "Bad Client Credentials"),
        }
    }
}

/// An issued token and its remaining lifetime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Issued {
    pub token: String,
    pub expires_in_secs: u64,
}

#[derive(Debug, Default)]
struct Tokens {
    current: Option<(String, Instant)>,
    expired: VecDeque<String>,
}

/// The token authority.
#[derive(Debug)]
pub(crate) struct Auth {
    client_id: String,
    client_secret: String,
    ttl: Duration,
    tokens: Mutex<Tokens>,
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut s = String::with_capacity(64);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

impl Auth {
    pub(crate) fn new(client_id: &str, client_secret: &str, ttl: Duration) -> Auth {
        Auth {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            ttl,
            tokens: Mutex::new(Tokens::default()),
        }
    }

    /// Checks credentials and returns the live token (a new one if none is live).
    pub(crate) fn issue(
        &self,
        grant_type: Option<&str>,
        client_id: Option<&str>,
        client_secret: Option<&str>,
    ) -> Result<Issued, IdentityError> {
        if grant_type != Some("client_credentials") {
            return Err(IdentityError::UnsupportedGrant);
        }
        let id_ok = client_id.is_some_and(|id| ct_eq(id, &self.client_id));
        if !id_ok {
            return Err(IdentityError::UnknownClient);
        }
        let secret_ok = client_secret.is_some_and(|s| ct_eq(s, &self.client_secret));
        if !secret_ok {
            return Err(IdentityError::BadCredentials);
        }
        let now = Instant::now();
        let mut tokens = self.tokens.lock();
        if let Some((token, issued)) = &tokens.current {
            let age = now.saturating_duration_since(*issued);
            if age < self.ttl {
                return Ok(Issued {
                    token: token.clone(),
                    expires_in_secs: (self.ttl - age).as_secs(),
                });
            }
        }
        if let Some((old, _)) = tokens.current.take() {
            remember_expired(&mut tokens, old);
        }
        let token = new_token();
        tokens.current = Some((token.clone(), now));
        Ok(Issued {
            token,
            expires_in_secs: self.ttl.as_secs().saturating_sub(1),
        })
    }

    /// 601 for an unknown token, 602 for an expired one.
    pub(crate) fn check(&self, token: Option<&str>) -> Result<(), ApiError> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(ApiError::code(ErrorCode::AccessTokenInvalid));
        };
        let mut tokens = self.tokens.lock();
        if let Some((current, issued)) = &tokens.current {
            if ct_eq(current, token) {
                if issued.elapsed() < self.ttl {
                    return Ok(());
                }
                if let Some((old, _)) = tokens.current.take() {
                    remember_expired(&mut tokens, old);
                }
                return Err(ApiError::code(ErrorCode::AccessTokenExpired));
            }
        }
        if tokens.expired.iter().any(|t| ct_eq(t, token)) {
            return Err(ApiError::code(ErrorCode::AccessTokenExpired));
        }
        Err(ApiError::code(ErrorCode::AccessTokenInvalid))
    }
}

fn remember_expired(tokens: &mut Tokens, token: String) {
    if tokens.expired.len() >= EXPIRED_REMEMBERED_MAX {
        tokens.expired.pop_front();
    }
    tokens.expired.push_back(token);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(ttl_ms: u64) -> Auth {
        Auth::new("id", "secret", Duration::from_millis(ttl_ms))
    }

    #[test]
    fn same_token_while_valid() {
        let a = auth(3_600_000);
        let t1 = a
            .issue(Some("client_credentials"), Some("id"), Some("secret"))
            .unwrap();
        let t2 = a
            .issue(Some("client_credentials"), Some("id"), Some("secret"))
            .unwrap();
        assert_eq!(t1.token, t2.token);
        assert_eq!(t1.token.len(), 64);
        assert_eq!(t1.expires_in_secs, 3599);
        assert!(a.check(Some(&t1.token)).is_ok());
        assert_eq!(
            a.check(Some("nope")).unwrap_err().code,
            ErrorCode::AccessTokenInvalid
        );
        assert_eq!(
            a.check(None).unwrap_err().code,
            ErrorCode::AccessTokenInvalid
        );
    }

    #[test]
    fn bad_credentials_are_refused() {
        let a = auth(1000);
        assert_eq!(
            a.issue(Some("client_credentials"), Some("id"), Some("wrong")),
            Err(IdentityError::BadCredentials)
        );
        assert_eq!(
            a.issue(Some("client_credentials"), Some("other"), Some("secret")),
            Err(IdentityError::UnknownClient)
        );
        assert_eq!(
            a.issue(None, Some("id"), Some("secret")),
            Err(IdentityError::UnsupportedGrant)
        );
    }

    #[test]
    fn expired_tokens_get_602_and_a_new_token_is_issued() {
        let a = auth(30);
        let t1 = a
            .issue(Some("client_credentials"), Some("id"), Some("secret"))
            .unwrap();
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            a.check(Some(&t1.token)).unwrap_err().code,
            ErrorCode::AccessTokenExpired
        );
        let t2 = a
            .issue(Some("client_credentials"), Some("id"), Some("secret"))
            .unwrap();
        assert_ne!(t1.token, t2.token);
        assert_eq!(
            a.check(Some(&t1.token)).unwrap_err().code,
            ErrorCode::AccessTokenExpired
        );
        assert!(a.check(Some(&t2.token)).is_ok());
    }
}
