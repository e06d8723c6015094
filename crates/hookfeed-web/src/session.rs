//! Who a connection reads as, in plain Rust (tested natively): the feed's WebSocket URL
//! from whatever URL the page gives, and the key a user's cached views live under.

use alloc::string::String;

/// The feed's WebSocket URL for an edge URL of any scheme: `http` and `ws` → `ws://`,
/// `https`, `wss` and no scheme → `wss://`; trailing slashes dropped, `/feed` appended.
pub fn feed_url(url: &str) -> String {
    let url = url.trim_end_matches('/');
    // By bytes: `str::find` with a string pattern brings a searcher of a kilobyte or two.
    let bytes = url.as_bytes();
    let (scheme, rest) = match (0..bytes.len()).find(|&i| bytes[i..].starts_with(b"://")) {
        Some(at) => (url.get(..at).unwrap_or(""), url.get(at + 3..).unwrap_or("")),
        None => ("", url.trim_start_matches('/')),
    };
    // Of the four schemes, the plain ones have even lengths (`ws`, `http`), the secure ones
    // odd (`wss`, `https`): no case folding needed, and none in the download.
    let plain = matches!(scheme.len(), 2 | 4);
    let mut out = String::from(if plain { "ws://" } else { "wss://" });
    out.push_str(rest);
    out.push_str("/feed");
    out
}

/// The cache key of a reader: a 128-bit hash (two FNV-1a 64) of the feed's URL (with its
/// tenant) and the token's claims without their times, in hex. Everything that decides
/// what the socket may read is in it: two users, two feeds, two sets of scopes never
/// share a key, and the same user's refreshed token keeps it.
pub fn reader_key(feed_url: &str, claims: &str) -> String {
    let mut out = String::new();
    for basis in [0xcbf2_9ce4_8422_2325_u64, 0x6c62_272e_07bb_0142] {
        let mut h = basis;
        // `\n` between the two: a URL has none, so no tail of it passes for the claims' head.
        for part in [feed_url, "\n", claims] {
            for &b in part.as_bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        for _ in 0..16 {
            out.push(char::from(b"0123456789abcdef"[(h >> 60) as usize]));
            h <<= 4;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_becomes_the_feeds_websocket_url() {
        for (given, want) in [
            ("http://127.0.0.1:8787", "ws://127.0.0.1:8787/feed"),
            ("https://edge.example.com/", "wss://edge.example.com/feed"),
            ("ws://h:1", "ws://h:1/feed"),
            ("wss://h", "wss://h/feed"),
            ("WSS://h//", "wss://h/feed"),
            ("HTTPS://h/base", "wss://h/base/feed"),
            ("//h", "wss://h/feed"),
            ("h", "wss://h/feed"),
        ] {
            assert_eq!(feed_url(given), want, "{given}");
        }
    }

    #[test]
    fn reader_keys_differ_by_feed_and_claims() {
        let a = reader_key("wss://h/feed", r#"{"sub":"a"}"#);
        assert_eq!(a.len(), 32);
        assert_eq!(a, reader_key("wss://h/feed", r#"{"sub":"a"}"#));
        assert_ne!(a, reader_key("wss://h/feed", r#"{"sub":"b"}"#));
        assert_ne!(a, reader_key("wss://h/feed?tenant=x", r#"{"sub":"a"}"#));
        // The separator keeps a URL's tail from passing for the claims' head.
        assert_ne!(reader_key("ab", "c"), reader_key("a", "bc"));
    }
}
