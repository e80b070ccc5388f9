//! What a model name and a version may be: nothing that could leave the
//! registry folder or confuse a URL.

/// A model name: 1 to 128 of ASCII letters, digits, `_`, `-` and `.`, not
/// starting with `.` (so never `.` or `..`).
pub fn is_valid_model_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A version: a positive integer written plainly (`1`, `12`; not `01`, `+1` or `0`).
pub fn parse_version(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.starts_with('0') {
        return None;
    }
    text.parse().ok()
}

/// Why a folder named `text`, which [`parse_version`] refuses, is not a
/// version folder.
pub fn why_not_a_version(text: &str) -> &'static str {
    if text.len() > 19 && !text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit()) {
        "version folders have at most 19 digits"
    } else {
        "version folders are positive integers without leading zeros"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_are_refused() {
        for bad in ["", ".", "..", "../x", "a/b", "a\\b", ".hidden", "a b", "é"] {
            assert!(!is_valid_model_name(bad), "{bad:?}");
        }
        for good in ["fraud", "fraud-v2", "fraud_model.xgb", "A1"] {
            assert!(is_valid_model_name(good), "{good:?}");
        }
        assert!(!is_valid_model_name(&"x".repeat(129)));
    }

    #[test]
    fn versions_are_plain_positive_integers() {
        assert_eq!(parse_version("1"), Some(1));
        assert_eq!(parse_version("42"), Some(42));
        for bad in [
            "0",
            "01",
            "-1",
            "+1",
            "1.0",
            "",
            "x",
            "99999999999999999999",
        ] {
            assert_eq!(parse_version(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ignored_version_folders_are_told_why() {
        for bad in ["latest", "010", "1.5", "0", "v2"] {
            assert_eq!(parse_version(bad), None, "{bad:?}");
            assert_eq!(
                why_not_a_version(bad),
                "version folders are positive integers without leading zeros",
                "{bad:?}"
            );
        }
        assert_eq!(
            why_not_a_version("99999999999999999999"),
            "version folders have at most 19 digits"
        );
    }
}
