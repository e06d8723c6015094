//! Which listens are waiting for their snapshot, so that an object that answers a listen
//! after an `await` (a hub preparing its mirror) answers and indexes exactly the listens
//! that are still wanted.
//!
//! A socket's listen is recorded in its attachment when its frame arrives; the snapshot
//! comes later. Meanwhile the client may unlisten, or unlisten and listen again with the
//! same id. Each recorded listen gets a ticket; an unlisten (or the socket closing)
//! cancels it, and a listen again with the same id replaces it. Only the holder of the
//! current ticket may answer and be indexed: a listen id is indexed once, and an unlisten
//! always wins, whenever it arrives.

use std::collections::HashMap;

use crate::fanout::SocketId;

/// A listen waiting for its snapshot: its number among every listen the object recorded.
pub type Ticket = u64;

/// The listens waiting for their snapshot, by socket and listen id.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListenBook {
    last: Ticket,
    waiting: HashMap<(SocketId, u32), Ticket>,
}

impl ListenBook {
    /// A listen was recorded: its ticket (replacing any earlier listen of the same id, which
    /// was unlistened to make room for it).
    pub fn begin(&mut self, sid: SocketId, id: u32) -> Ticket {
        self.last += 1;
        self.waiting.insert((sid, id), self.last);
        self.last
    }

    /// The client unlistened `id`: its waiting listen, if any, is not answered.
    pub fn cancel(&mut self, sid: SocketId, id: u32) {
        self.waiting.remove(&(sid, id));
    }

    /// The socket closed: none of its listens is answered.
    pub fn forget_socket(&mut self, sid: SocketId) {
        self.waiting.retain(|(s, _), _| *s != sid);
    }

    /// Whether the listen with `ticket` is still wanted (no unlisten since).
    pub fn is_current(&self, sid: SocketId, id: u32, ticket: Ticket) -> bool {
        self.waiting.get(&(sid, id)) == Some(&ticket)
    }

    /// The listen with `ticket` is answered (or refused) now, if it is still wanted: true
    /// at most once per ticket. The caller sends its snapshot and indexes it only then.
    pub fn settle(&mut self, sid: SocketId, id: u32, ticket: Ticket) -> bool {
        if self.is_current(sid, id, ticket) {
            self.waiting.remove(&(sid, id));
            return true;
        }
        false
    }

    /// Listens waiting.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_unlisten_listen_with_one_id_answers_and_indexes_only_the_last() {
        let mut book = ListenBook::default();
        let first = book.begin(1, 7);
        book.cancel(1, 7);
        let second = book.begin(1, 7);
        // Both preparations finish, in either order: one snapshot, one index entry.
        assert!(!book.settle(1, 7, first));
        assert!(book.settle(1, 7, second));
        assert!(!book.settle(1, 7, second), "a ticket settles once");
        assert!(book.is_empty());
    }

    #[test]
    fn an_unlisten_while_the_listen_is_prepared_wins() {
        let mut book = ListenBook::default();
        let t = book.begin(1, 1);
        let other = book.begin(2, 1);
        book.cancel(1, 1);
        assert!(!book.is_current(1, 1, t));
        assert!(!book.settle(1, 1, t), "the unlistened listen gets no snapshot and is not indexed");
        assert!(book.settle(2, 1, other), "another socket's listen with the same id is its own");
        let gone = book.begin(3, 1);
        book.forget_socket(3);
        assert!(!book.settle(3, 1, gone));
    }
}
