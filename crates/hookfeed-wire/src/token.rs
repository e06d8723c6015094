//! The shape of a subscriber token, `hf1.<base64url claims>.<base64url MAC>`: its parts,
//! split once here for the feed (which verifies it), the browser module and the CLI (which
//! read the claims to know when to refresh, or which tenant a token is for).

/// The version prefix every token starts with (it is signed too).
pub const PREFIX: &str = "hf1.";
/// Longest token accepted.
pub const MAX_LEN: usize = 4096;

/// A token's parts: what was signed (`hf1.<claims>`), the claims in base64url, and the
/// MAC in base64url. `None` unless it has exactly that shape (no decoding is done here).
pub fn parts(token: &str) -> Option<(&str, &str, &str)> {
    if token.len() > MAX_LEN {
        return None;
    }
    let rest = token.strip_prefix(PREFIX)?;
    let (claims, mac) = rest.split_once('.')?;
    if claims.is_empty() || mac.is_empty() || mac.contains('.') {
        return None;
    }
    let signed = &token[..PREFIX.len() + claims.len()];
    Some((signed, claims, mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_splits_into_signed_claims_and_mac_and_nothing_else_does() {
        assert_eq!(parts("hf1.eyJ.c2ln"), Some(("hf1.eyJ", "eyJ", "c2ln")));
        for bad in ["", "hf1.", "hf1.abc", "hf1..", "hf1.a.", "hf1..b", "hf1.a.b.c", "hf2.a.b", "xhf1.a.b"] {
            assert_eq!(parts(bad), None, "{bad:?}");
        }
        let long = alloc::format!("hf1.{}.b", "a".repeat(MAX_LEN));
        assert_eq!(parts(&long), None);
    }
}
