//! The shape of a subscriber token: a JWT (RFC 7519) in compact form,
//! `<base64url header>.<base64url claims>.<base64url signature>`. Split once here for the
//! feed (which verifies it), the browser module and the CLI (which read the claims to know
//! when to refresh, or which tenant a token is for). No decoding is done here.

/// Longest token accepted.
pub const MAX_LEN: usize = 4096;

/// A token's parts: what was signed (`<header>.<claims>`), the header, the claims and the
/// signature, each base64url. `None` unless it has exactly three non-empty parts.
pub fn parts(token: &str) -> Option<(&str, &str, &str, &str)> {
    if token.len() > MAX_LEN {
        return None;
    }
    // One pass over the bytes for the two dots (the browser module downloads this code).
    let mut dots = token.bytes().enumerate().filter(|(_, b)| *b == b'.').map(|(i, _)| i);
    let (first, second) = (dots.next()?, dots.next()?);
    if dots.next().is_some() || first == 0 || second == first + 1 || second + 1 == token.len() {
        return None;
    }
    let (signed, signature) = (token.get(..second)?, token.get(second + 1..)?);
    Some((signed, signed.get(..first)?, signed.get(first + 1..)?, signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_splits_into_signed_header_claims_and_signature_and_nothing_else_does() {
        assert_eq!(parts("eyJh.eyJ0.c2ln"), Some(("eyJh.eyJ0", "eyJh", "eyJ0", "c2ln")));
        for bad in ["", ".", "a", "a.b", "a.b.", ".b.c", "a..c", "a.b.c.d", "hf1.", "hf1.abc"] {
            assert_eq!(parts(bad), None, "{bad:?}");
        }
        let long = alloc::format!("a.{}.c", "b".repeat(MAX_LEN));
        assert_eq!(parts(&long), None);
    }
}
