//! A setting's value that must never reach a log or an error message: an API
//! key, a signing secret, a password, a connection string that may carry
//! credentials. Settings are `Debug` so they can be inspected; their secrets
//! print masked, and the text is reached only by `expose` where it is used.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The text, for the one place that uses it (a header, a driver, a key).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_its_text() {
        let secret = Secret::from("mongodb://app:hunter2@db:27017");
        let shown = format!("{secret:?} {:?} {:#?}", Some(&secret), [&secret]);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(secret.expose(), "mongodb://app:hunter2@db:27017");
        let json = serde_json::to_string(&secret).expect("serializes");
        assert_eq!(serde_json::from_str::<Secret>(&json).expect("deserializes"), secret);
    }
}
