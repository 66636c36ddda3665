//! Whether a signing secret is fit to guard points: long, not a placeholder
//! from the deploy files, not one this repository publishes (its tests' and
//! examples'), and not guessable by the patterns people type (runs,
//! sequences, keyboard rows, repeats, words), as zxcvbn estimates them.
//! Anyone who can guess the secret can sign a token for any member.

/// Values the deploy files and docs ship for operators to replace, and
/// words that mark a value as one of those.
const PLACEHOLDERS: &[&str] = &[
    "CHANGE-ME-TO-AT-LEAST-32-RANDOM-BYTES",
    "change-me-to-32-or-more-random-bytes-please",
    "CHANGE-ME-TO-THE-FIRST-ADMINS-PASSWORD",
];
const PLACEHOLDER_WORDS: &[&str] = &["changeme", "change-me", "change_me", "replace-me", "replaceme", "placeholder"];

/// Secret-like strings anyone can read in this repository.
const PUBLISHED: &str = include_str!("published.txt");

/// zxcvbn's estimate of the guesses a secret takes, as a power of ten, below
/// which it is refused. zxcvbn caps its estimate near 10^19.3, where every
/// random 32-byte secret lands; keyboard rows (10^12), alphabets and counting
/// (10^4) and a phrase said three times (10^17.5) fall well short.
const MIN_GUESSES_LOG10: f64 = 18.0;

/// How to make a good one.
const HOW: &str = "generate one: `openssl rand -base64 32`";

/// Whether `value` is one the deploy files or docs ship to be replaced.
pub fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    PLACEHOLDERS.iter().any(|p| p.eq_ignore_ascii_case(value)) || PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w))
}

fn is_published(value: &str) -> bool {
    PUBLISHED.lines().filter(|line| !line.starts_with('#')).any(|line| line == value)
}

/// `Err` says why the secret is refused.
pub fn check(secret: &str) -> Result<(), String> {
    if secret.len() < 32 {
        return Err(format!("must be at least 32 bytes; {HOW}"));
    }
    if is_placeholder(secret) {
        return Err(format!("is a placeholder from the deploy files or docs; {HOW}"));
    }
    if is_published(secret) {
        return Err(format!("is published in pointshare's repository (a test's or an example's); {HOW}"));
    }
    let guesses = zxcvbn::zxcvbn(secret, &[]).guesses_log10();
    if guesses < MIN_GUESSES_LOG10 {
        return Err(format!(
            "is too predictable (runs, sequences, keyboard rows, repeats or words: about 10^{guesses:.0} guesses); {HOW}"
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
        let value = shipped(include_str!("../../../../deploy/k8s/secret.yaml"));
        let reason = check(&value).expect_err(&value);
        assert!(reason.contains("placeholder"), "{reason}");
    }

    #[test]
    fn the_admin_password_shipped_in_the_kubernetes_files_is_a_placeholder() {
        let file = include_str!("../../../../deploy/k8s/secret.yaml");
        let line = file.lines().find(|line| line.contains("POINTSHARE_BOOTSTRAP_ADMIN_PASSWORD")).expect("set");
        assert!(is_placeholder(line.split_once(':').expect("key: value").1.trim().trim_matches('"')));
    }

    #[test]
    fn weak_secrets_are_refused_with_a_reason() {
        for (weak, why) in [
            ("short", "32 bytes"),
            (&"x".repeat(40), "predictable"),
            ("chaos-secret-chaos-secret-chaos-secret", "predictable"),
            ("abcdefghabcdefghabcdefghabcdefgh", "predictable"),
            // Each character distinct, or nearly: a count of characters
            // calls these random; they are a keyboard, an alphabet, counting.
            ("qwertyuiopasdfghjklzxcvbnm123456", "predictable"),
            ("abcdefghijklmnopqrstuvwxyz012345", "predictable"),
            ("0123456789abcdef0123456789abcdef", "predictable"),
            ("zyxwvutsrqponmlkjihgfedcba987654", "predictable"),
            ("1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9", "predictable"),
            ("change-me-to-32-or-more-random-bytes-please", "placeholder"),
            ("please-REPLACEME-with-something-random-0123", "placeholder"),
            ("a test secret of at least thirty-two bytes", "published"),
        ] {
            let reason = check(weak).expect_err(weak);
            assert!(reason.contains(why) && reason.contains("openssl rand"), "{weak}: {reason}");
        }
    }

    #[test]
    fn random_secrets_pass() {
        use base64::Engine;
        for _ in 0..200 {
            let bytes: [u8; 32] = rand::random();
            check(&hex::encode(bytes)).expect("64 random hex digits");
            check(&base64::engine::general_purpose::STANDARD.encode(bytes)).expect("`openssl rand -base64 32`");
        }
    }

    /// The values after a secret's name on `line`: `NAME = "value"`,
    /// `NAME: value`, `("NAME", "value")`, `name = Some("value".into())`;
    /// those long enough to be one, and literal (no call, no substitution).
    fn values_named_secret(line: &str) -> Vec<String> {
        let lower = line.to_ascii_lowercase();
        let mut values = Vec::new();
        let mut from = 0;
        while let Some(at) = lower[from..].find("secret").map(|at| at + from) {
            let name_ends =
                at + lower[at..].find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(lower.len() - at);
            let mut rest = &line[name_ends..];
            loop {
                let trimmed = rest
                    .trim_start_matches(|c: char| c.is_whitespace() || "\"':=,&>".contains(c))
                    .trim_start_matches("str")
                    .trim_start_matches("Some(");
                if trimmed.len() == rest.len() {
                    break;
                }
                rest = trimmed;
            }
            let value = rest.split(|c: char| c.is_whitespace() || "\"';,)".contains(c)).next().unwrap_or_default();
            let literal = !value.contains(['(', '$', '{']) && !value.contains("::");
            if literal && value.len() >= 32 {
                values.push(value.to_owned());
            }
            from = name_ends;
        }
        values
    }

    #[test]
    fn the_secret_finder_reads_the_shapes_the_tree_uses() {
        let secret = hex::encode(rand::random::<[u8; 16]>());
        for line in [
            format!(r#"pub const TEST_SECRET: &str = "{secret}";"#),
            format!(r#"        ("POINTSHARE_JWT_SECRET", "{secret}".into()),"#),
            format!(r#"  POINTSHARE_JWT_SECRET: "{secret}""#),
            format!("POINTSHARE_JWT_SECRET={secret} cargo run"),
            format!(r#"settings.auth.jwt_secret = Some("{secret}".into());"#),
            format!(r#"jwt_secret = "{secret}""#),
        ] {
            assert_eq!(values_named_secret(&line), vec![secret.to_owned()], "{line}");
        }
        assert!(values_named_secret(r#"POINTSHARE_JWT_SECRET="$(head -c 32 /dev/urandom | base64)""#).is_empty());
    }

    /// A test secret, an example in the docs or a deploy file's value: what
    /// is in this repository is public, and must never sign a real token.
    #[test]
    fn every_secret_like_string_in_the_repository_is_refused() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let listed = std::process::Command::new("git")
            .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
            .current_dir(root)
            .output()
            .expect("git lists the repository's files");
        assert!(listed.status.success(), "git ls-files: {}", String::from_utf8_lossy(&listed.stderr));
        let files: Vec<String> =
            String::from_utf8_lossy(&listed.stdout).split('\0').filter(|f| !f.is_empty()).map(str::to_owned).collect();
        assert!(files.len() > 100, "the repository's files: {files:?}");
        let mut accepted = Vec::new();
        for file in &files {
            let Ok(text) = std::fs::read_to_string(format!("{root}/{file}")) else { continue };
            for (number, line) in text.lines().enumerate() {
                for value in values_named_secret(line) {
                    if check(&value).is_ok() {
                        accepted.push(format!("{file}:{}: {value}", number + 1));
                    }
                }
            }
        }
        assert!(
            accepted.is_empty(),
            "secrets in the repository that a server would accept; make them at run time \
             (pointshare_testkit::random_secret), or add each to crates/server/src/secrets/published.txt:\n{}",
            accepted.join("\n")
        );
    }
}
