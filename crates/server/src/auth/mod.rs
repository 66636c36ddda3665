//! Who is calling. Access tokens are HS256 JWTs naming a member and the
//! session (login) they belong to, with `iat`, `nbf` and `exp` checked and a
//! key id, so the secret can be rotated (the current and the previous secret
//! verify). They carry no role: `Access` loads the member and the session as
//! the store has them (a few seconds' cache) and applies the domain's access
//! rule, so a suspension, a logout or a session ended for token reuse stops
//! its tokens on every replica within seconds (the handlers' `Caller` and
//! `Admin` extractors are in `routes::caller`). Refresh tokens
//! are opaque: `<session id>.<random>`, stored as the SHA-256 of the random
//! part. Passwords are hashed with argon2id, one hash per core at a time and
//! a bounded queue in front.
//!
//! A file per job: tokens.rs (access tokens), opaque.rs (refresh and mailed
//! tokens), passwords.rs, access.rs.

mod access;
mod opaque;
mod passwords;
mod tokens;

pub use access::{ACCESS_FRESHNESS, Access, AccessRefused};
pub use opaque::{RefreshToken, mailed_token, presented_token};
pub use passwords::Passwords;
pub use tokens::{Bearer, TokenRefused, Tokens};
