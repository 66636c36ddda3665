//! Whether a signing secret is fit to guard points: long, not a placeholder
//! from this repository's deploy files, not a pattern. Anyone who can guess
//! the secret can sign a token for any member.

/// Values the deploy files and docs ship for operators to replace, and
/// words that mark a value as one of those.
const PLACEHOLDERS: &[&str] = &[
    "CHANGE-ME-TO-AT-LEAST-32-RANDOM-BYTES",
    "change-me-to-32-or-more-random-bytes-please",
    "CHANGE-ME-TO-THE-FIRST-ADMINS-PASSWORD",
];
const PLACEHOLDER_WORDS: &[&str] = &["changeme", "change-me", "change_me", "replace-me", "replaceme", "placeholder"];

/// Bits a secret must carry by a per-character Shannon estimate. An estimate
/// of randomness from one sample undercounts short random strings, so the bar
/// sits below the 128 bits a 32-byte secret really has; it still refuses
/// words repeated and keyboard runs.
const MIN_BITS: f64 = 100.0;
const MIN_DISTINCT: usize = 10;

/// Whether `value` is one the deploy files or docs ship to be replaced.
pub fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    PLACEHOLDERS.iter().any(|p| p.eq_ignore_ascii_case(value)) || PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w))
}

/// `Err` says why the secret is refused.
pub fn check(secret: &str) -> Result<(), String> {
    if secret.len() < 32 {
        return Err("must be at least 32 bytes (e.g. `head -c 32 /dev/urandom | base64`)".into());
    }
    if is_placeholder(secret) {
        return Err(
            "is a placeholder from the deploy files or docs; generate one: `head -c 32 /dev/urandom | base64`".into()
        );
    }
    let mut counts = std::collections::HashMap::new();
    for c in secret.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    if counts.len() == 1 {
        return Err("is one character repeated".into());
    }
    let len = secret.chars().count() as f64;
    let bits: f64 = counts.values().map(|&n| -(n as f64) * (n as f64 / len).log2()).sum();
    if counts.len() < MIN_DISTINCT || bits < MIN_BITS {
        return Err(format!(
            "is too predictable ({} distinct characters, about {bits:.0} bits); use 32 random bytes: `head -c 32 /dev/urandom | base64`",
            counts.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value a deploy file gives `POINTSHARE_JWT_SECRET`.
    fn shipped(file: &str) -> String {
        let line = file.lines().find(|line| line.contains("POINTSHARE_JWT_SECRET")).expect("the file sets the secret");
        line.split_once(':').expect("a key: value line").1.trim().trim_matches('"').to_owned()
    }

    #[test]
    fn the_secret_shipped_in_the_kubernetes_files_is_refused() {
        let value = shipped(include_str!("../../../deploy/k8s/secret.yaml"));
        let reason = check(&value).expect_err(&value);
        assert!(reason.contains("placeholder"), "{reason}");
    }

    #[test]
    fn the_admin_password_shipped_in_the_kubernetes_files_is_a_placeholder() {
        let file = include_str!("../../../deploy/k8s/secret.yaml");
        let line = file.lines().find(|line| line.contains("POINTSHARE_BOOTSTRAP_ADMIN_PASSWORD")).expect("set");
        assert!(is_placeholder(line.split_once(':').expect("key: value").1.trim().trim_matches('"')));
    }

    #[test]
    fn weak_secrets_are_refused_with_a_reason() {
        for (weak, why) in [
            ("short", "32 bytes"),
            (&"x".repeat(40), "one character"),
            ("chaos-secret-chaos-secret-chaos-secret", "predictable"),
            ("abcdefghabcdefghabcdefghabcdefgh", "predictable"),
            ("change-me-to-32-or-more-random-bytes-please", "placeholder"),
            ("please-REPLACEME-with-something-random-0123", "placeholder"),
        ] {
            let reason = check(weak).expect_err(weak);
            assert!(reason.contains(why), "{weak}: {reason}");
        }
    }

    #[test]
    fn random_secrets_pass() {
        for _ in 0..200 {
            let bytes: [u8; 32] = rand::random();
            let base64 = bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
            check(&base64).expect("64 random hex digits");
        }
        check("q7Vx2Lr9Zt0Pw4Ks8Nd1Hm6Jc3Fb5Gy+Ae/Ui=").expect("random base64");
        check("a test secret of at least thirty-two bytes").expect("a long passphrase");
    }
}
