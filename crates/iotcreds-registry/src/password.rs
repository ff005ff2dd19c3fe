//! Console passwords (IAM login profiles): the IAM model's character rules, AWS's default
//! account password policy, and argon2id hashing in PHC string form.
//!
//! Hashing and verifying are deliberately slow (memory-hard, about 19 MiB and tens of
//! milliseconds each): callers run them on a blocking thread and bound how many run at once.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory cost in KiB (OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane).
const M_COST_KIB: u32 = 19 * 1024;
/// Passes.
const T_COST: u32 = 2;
/// Lanes.
const P_COST: u32 = 1;
/// Salt bytes.
const SALT_LEN: usize = 16;

/// The longest password IAM accepts.
pub const MAX_LEN: usize = 128;
/// The shortest password the default account password policy accepts.
pub const MIN_LEN: usize = 8;

/// AWS's message when a password breaks the account password policy.
pub const POLICY_VIOLATION: &str = "Password does not conform to the account password policy.";

/// What the default password policy asks for, in words (for forms and docs).
pub const POLICY_TEXT: &str = "at least 8 characters, with at least three of: uppercase \
letters, lowercase letters, numbers, symbols; not the same as the user name";

fn argon2() -> Argon2<'static> {
    // Constant, valid parameters: `Params::new` cannot fail for them.
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Whether `password` fits IAM's model for `passwordType` (1–128 characters of
/// `[\u0009\u000A\u000D\u0020-\u00FF]`).
pub fn fits_model(password: &str) -> bool {
    let n = password.chars().count();
    (1..=MAX_LEN).contains(&n)
        && password
            .chars()
            .all(|c| matches!(c, '\t' | '\n' | '\r') || ('\u{20}'..='\u{ff}').contains(&c))
}

/// Whether `password` satisfies AWS's default account password policy for `user_name`: at
/// least 8 characters, at least three of the four character classes, and not the user name.
pub fn meets_policy(password: &str, user_name: &str) -> bool {
    if password.chars().count() < MIN_LEN || password.eq_ignore_ascii_case(user_name) {
        return false;
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    classes.iter().filter(|&&b| b).count() >= 3
}

/// Why a password could not be hashed (the system's random source failed).
#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(String);

/// Hash `password` with argon2id and a fresh 16-byte salt; the PHC string carries the
/// parameters, so they can change later without invalidating stored hashes. Slow: call it on a
/// blocking thread.
pub fn hash(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; SALT_LEN];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| HashError("random source failed".into()))?;
    argon2()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches the PHC string `phc` (argon2's comparison is constant-time). A
/// malformed stored hash matches nothing. Slow: call it on a blocking thread.
pub fn verify(password: &str, phc: &str) -> bool {
    argon2().verify_password(password.as_bytes(), phc).is_ok()
}

/// Spend what [`verify`] spends, for a user that has no password, so that the answer's timing
/// does not tell which users exist.
pub fn verify_nothing(password: &str) {
    let mut out = [0u8; 32];
    let _ = argon2().hash_password_into(password.as_bytes(), &[0u8; SALT_LEN], &mut out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_characters_and_length() {
        assert!(fits_model("a"));
        assert!(fits_model("tab\there é"));
        assert!(!fits_model(""));
        assert!(!fits_model(&"a".repeat(129)));
        assert!(fits_model(&"a".repeat(128)));
        assert!(!fits_model("nul\0"));
        assert!(!fits_model("snow☃man"));
    }

    #[test]
    fn default_policy() {
        assert!(meets_policy("Correct-horse1", "alice"));
        assert!(meets_policy("correct-horse1", "alice"), "three classes");
        assert!(meets_policy("CORRECThorse1", "alice"));
        assert!(!meets_policy("Ab1!", "alice"), "too short");
        assert!(!meets_policy("correcthorse", "alice"), "one class");
        assert!(!meets_policy("correcthorse1", "alice"), "two classes");
        assert!(!meets_policy("Alice-Pw1", "alice-pw1"), "the user name");
    }

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash("Correct-horse1").unwrap();
        let b = hash("Correct-horse1").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "fresh salt each time");
        assert!(verify("Correct-horse1", &a));
        assert!(!verify("Correct-horse2", &a));
        assert!(!verify("Correct-horse1", "not a phc string"));
        assert!(!verify("", &a));
        verify_nothing("whatever");
    }
}
