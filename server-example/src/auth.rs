//! API-token authentication: `X-IM-Token: <token>` (or `Authorization: Bearer <token>`, which
//! Alertmanager's `http_config.authorization` sends) on every route but health, readiness,
//! metrics and the CI webhooks (which carry their own signature or token).
//!
//! Tokens are compared in constant time: both sides are hashed with SHA-256 first (so the
//! comparison never depends on a length) and compared with `subtle`; every configured token is
//! checked, without stopping at the first hit. Tokens are never logged.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::config::Secret;
use crate::error::AppError;

/// The accepted tokens, as SHA-256 digests.
#[derive(Clone)]
pub struct Auth {
    digests: Arc<Vec<[u8; 32]>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Auth({} tokens)", self.digests.len())
    }
}

fn digest(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

impl Auth {
    /// Accepts these tokens.
    pub fn new(tokens: &[Secret]) -> Self {
        Auth {
            digests: Arc::new(tokens.iter().map(|t| digest(&t.0)).collect()),
        }
    }

    /// Whether `presented` is one of the tokens, in constant time.
    pub fn check(&self, presented: &[u8]) -> bool {
        let d = digest(presented);
        let mut ok = Choice::from(0);
        for t in self.digests.iter() {
            ok |= t.ct_eq(&d);
        }
        bool::from(ok)
    }
}

/// Constant-time equality of two secrets of any length (hashed first).
pub fn secret_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(digest(a).ct_eq(&digest(b)))
}

/// The token a request presents, if any.
pub fn presented_token(req: &Request) -> Option<&[u8]> {
    let h = req.headers();
    if let Some(v) = h.get("x-im-token") {
        return Some(v.as_bytes());
    }
    h.get(axum::http::header::AUTHORIZATION)
        .and_then(|v| bearer_token(v.as_bytes()))
}

/// The token of an `Authorization: Bearer <token>` value. The scheme is case-insensitive
/// (RFC 9110 section 11.1), so `bearer` and `BEARER` count too; the token itself is compared
/// exactly, by [`Auth::check`].
pub fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.strip_prefix(b" ")?.trim_ascii_start();
    (!token.is_empty()).then_some(token)
}

/// Middleware: 401 with the JSON error shape unless the request carries a valid token.
pub async fn require_token(State(auth): State<Auth>, req: Request, next: Next) -> Response {
    match presented_token(&req) {
        Some(t) if auth.check(t) => next.run(req).await,
        Some(_) => AppError::Unauthorized(
            "the X-IM-Token header does not hold a valid token".into(),
        )
        .into_response(),
        None => AppError::Unauthorized(
            "missing X-IM-Token header: send X-IM-Token: <token> (or Authorization: Bearer <token>)"
                .into(),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_tokens_pass() {
        let a = Auth::new(&[Secret::new("alpha"), Secret::new("beta")]);
        assert!(a.check(b"alpha"));
        assert!(a.check(b"beta"));
        assert!(!a.check(b"alph"));
        assert!(!a.check(b""));
        assert!(!Auth::new(&[]).check(b"alpha"));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for v in ["Bearer tok", "bearer tok", "BEARER tok", "bEaReR  tok"] {
            assert_eq!(bearer_token(v.as_bytes()), Some(&b"tok"[..]), "{v}");
        }
        for v in [
            "Basic tok",
            "Bearertok",
            "Bearer",
            "Bearer ",
            "Bear tok",
            "",
        ] {
            assert_eq!(bearer_token(v.as_bytes()), None, "{v}");
        }
    }
}
