//! Named admin tokens: who made an admin call, for the audit trail.
//!
//! ```toml
//! [admin_tokens]               # name = token; the name is what the audit log records
//! alice = "..."
//! deploy-bot = "..."
//! ```
//!
//! The older single `admin_token` (or `EDGESCORE_ADMIN_TOKEN`) is the
//! token named [`DEFAULT_TOKEN_NAME`]. A bearer token is compared with
//! every configured token in constant time, all of them every time, so the
//! answer's timing tells nothing of which token (or how much of one) was
//! right.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use subtle::ConstantTimeEq;

/// The name of the token given by `admin_token` or `EDGESCORE_ADMIN_TOKEN`.
pub const DEFAULT_TOKEN_NAME: &str = "admin";

/// Who made an admin call: the name of the token that authorized it.
pub type Actor = String;

/// The admin tokens the server accepts, by name.
#[derive(Clone, Default)]
pub struct AdminTokens {
    tokens: Vec<(String, String)>,
}

impl std::fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: a token never reaches a log.
        f.debug_struct("AdminTokens")
            .field("names", &self.names())
            .finish()
    }
}

/// Why a set of tokens cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdminTokenError {
    #[error("admin token '{name}' is empty; give it a secret or remove it")]
    Empty { name: String },
    #[error("admin tokens '{first}' and '{second}' are the same secret; give each its own")]
    Shared { first: String, second: String },
    #[error(
        "admin token name '{name}' is not a name: use letters, digits, '-', '_' and '.' (at most 64)"
    )]
    BadName { name: String },
}

impl AdminTokens {
    /// The tokens of `[admin_tokens]` and, named [`DEFAULT_TOKEN_NAME`],
    /// the single `admin_token` (when there is one and the table does not
    /// name `admin` itself).
    pub fn new(
        named: &BTreeMap<String, String>,
        default: Option<String>,
    ) -> Result<Self, AdminTokenError> {
        let mut tokens: Vec<(String, String)> =
            named.iter().map(|(n, t)| (n.clone(), t.clone())).collect();
        if let Some(token) = default
            && !named.contains_key(DEFAULT_TOKEN_NAME)
        {
            tokens.push((DEFAULT_TOKEN_NAME.to_owned(), token));
        }
        for (i, (name, token)) in tokens.iter().enumerate() {
            let valid_name = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid_name {
                return Err(AdminTokenError::BadName { name: name.clone() });
            }
            if token.is_empty() {
                return Err(AdminTokenError::Empty { name: name.clone() });
            }
            if let Some((other, _)) = tokens[..i].iter().find(|(_, t)| t == token) {
                return Err(AdminTokenError::Shared {
                    first: other.clone(),
                    second: name.clone(),
                });
            }
        }
        Ok(Self { tokens })
    }

    /// Whether no token is configured (the admin routes are then off).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The tokens' names.
    pub fn names(&self) -> Vec<&str> {
        self.tokens.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The name of the token a request's `Authorization: Bearer` header
    /// carries, if it is one of ours.
    pub fn identify(&self, headers: &HeaderMap) -> Option<Actor> {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let mut found = None;
        for (name, token) in &self.tokens {
            if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
                found = Some(name.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("header"),
        );
        headers
    }

    #[test]
    fn each_token_is_known_by_its_name() {
        let named = BTreeMap::from([
            ("alice".to_owned(), "a-secret".to_owned()),
            ("deploy-bot".to_owned(), "b-secret".to_owned()),
        ]);
        let tokens = AdminTokens::new(&named, Some("old".into())).expect("tokens");
        assert_eq!(
            tokens.identify(&bearer("a-secret")).as_deref(),
            Some("alice")
        );
        assert_eq!(
            tokens.identify(&bearer("b-secret")).as_deref(),
            Some("deploy-bot")
        );
        assert_eq!(tokens.identify(&bearer("old")).as_deref(), Some("admin"));
        assert_eq!(tokens.identify(&bearer("a-secre")), None);
        assert_eq!(tokens.identify(&HeaderMap::new()), None);
    }

    #[test]
    fn empty_shared_and_misnamed_tokens_are_refused() {
        let empty = BTreeMap::from([("alice".to_owned(), String::new())]);
        assert!(matches!(
            AdminTokens::new(&empty, None),
            Err(AdminTokenError::Empty { .. })
        ));
        let shared = BTreeMap::from([
            ("alice".to_owned(), "same".to_owned()),
            ("bob".to_owned(), "same".to_owned()),
        ]);
        assert!(matches!(
            AdminTokens::new(&shared, None),
            Err(AdminTokenError::Shared { .. })
        ));
        let spaced = BTreeMap::from([("a b".to_owned(), "x".to_owned())]);
        assert!(matches!(
            AdminTokens::new(&spaced, None),
            Err(AdminTokenError::BadName { .. })
        ));
        assert!(
            AdminTokens::new(&BTreeMap::new(), None)
                .expect("none")
                .is_empty()
        );
    }
}
