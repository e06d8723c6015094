//! What every side of hookfeed must agree on, defined once: the Worker and the Feed
//! object (through hookfeed-core), the browser module and the CLI all depend on this crate.
//!
//! `no_std` with `alloc`, and no dependencies, so that the browser module can use it
//! without growing its download: the names of the wire protocol ([`names`]), the
//! subprotocol, change kinds and error codes, the shape of a subscriber token, the rules of
//! document paths ([`path`]), the order of field values in a query ([`order`]) and the
//! reconnect delays ([`backoff`]).
#![no_std]

extern crate alloc;

pub mod backoff;
pub mod names;
pub mod order;
pub mod path;
pub mod token;

/// The WebSocket subprotocol a client offers (beside its token) and the feed picks.
pub const SUBPROTOCOL: &str = "hookfeed";

/// The subprotocol of a client that also reads batched frames: a JSON array of the
/// server messages it would otherwise get one by one, in their order. The feed and hubs
/// pick it over [`SUBPROTOCOL`] when offered, and send an array only when one turn has
/// several messages for the socket (a group commit's changes to what it watches).
pub const BATCH_SUBPROTOCOL: &str = "hookfeed.batch";

/// How a document changed, in a listener's results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// It entered the results.
    Added,
    /// It is in the results and its data changed.
    Modified,
    /// It left the results.
    Removed,
}

impl ChangeKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Added, Self::Modified, Self::Removed];

    /// The protocol's (and Firestore's `docChanges()`) spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Modified => "modified",
            Self::Removed => "removed",
        }
    }

    /// Reads the protocol's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Firestore's error codes, as listen errors carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request is malformed.
    InvalidArgument,
    /// The token does not grant the target.
    PermissionDenied,
    /// No valid token (missing, forged or expired).
    Unauthenticated,
    /// Too many listens or too much traffic.
    ResourceExhausted,
    /// The feed cannot serve now; retry.
    Unavailable,
    /// A bug on the server.
    Internal,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [Self; 6] = [
        Self::InvalidArgument,
        Self::PermissionDenied,
        Self::Unauthenticated,
        Self::ResourceExhausted,
        Self::Unavailable,
        Self::Internal,
    ];

    /// Firestore's spelling (`permission-denied`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "invalid-argument",
            Self::PermissionDenied => "permission-denied",
            Self::Unauthenticated => "unauthenticated",
            Self::ResourceExhausted => "resource-exhausted",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// Reads Firestore's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_codes_read_back_what_they_write() {
        for kind in ChangeKind::ALL {
            assert_eq!(ChangeKind::parse(kind.as_str()), Some(kind));
        }
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ChangeKind::parse("Added"), None);
        assert_eq!(ErrorCode::parse("not-found"), None);
    }
}
