//! Change frames: a change serialised once, then framed for each listen it reaches.

use super::index::Recipient;
use crate::ledger::{ChangeKind, DocChange};

/// A change serialised once, then framed per listen: the data is the bulk of each frame
/// and the same for every recipient.
#[derive(Debug, Clone)]
pub struct ChangeFrame {
    seq_and_path: String,
    data: String,
}

impl ChangeFrame {
    /// Serialises `change` once.
    pub fn new(change: &DocChange) -> Self {
        let path = serde_json::to_string(change.path.as_str()).unwrap_or_default();
        Self {
            seq_and_path: format!(",\"seq\":{},\"path\":{path}", change.seq),
            data: serde_json::to_string(&change.data).unwrap_or_default(),
        }
    }

    /// The `change` frame for one recipient; the same text as serialising
    /// [`ServerMessage::Change`](crate::protocol::ServerMessage::Change).
    pub fn for_recipient(&self, recipient: &Recipient) -> String {
        let kind = recipient.kind.as_str();
        if recipient.kind == ChangeKind::Removed {
            return format!(
                "{{\"type\":\"change\",\"id\":{}{},\"kind\":\"{kind}\"}}",
                recipient.listen_id, self.seq_and_path
            );
        }
        format!(
            "{{\"type\":\"change\",\"id\":{}{},\"kind\":\"{kind}\",\"data\":{}}}",
            recipient.listen_id, self.seq_and_path, self.data
        )
    }
}
