//! The frames one turn of an object sends: every change and window frame of a batch of
//! changes, queued per socket in order, then sent as one frame per socket where the
//! socket reads batched frames ([`BATCH_SUBPROTOCOL`](hookfeed_wire::BATCH_SUBPROTOCOL)).
//!
//! Sending is most of a broadcast's cost (workerd spends tens of microseconds per
//! message), so when a group commit brings several changes to a watched document in one
//! turn, a batched socket gets them in one send: a JSON array of the messages it would
//! otherwise have got one by one, in the same order. Texts are shared: a message text
//! is queued once for every socket it goes to, and an array of the same texts in the
//! same order is joined once, however many sockets get it.

use std::collections::HashMap;

use super::SocketId;

/// The largest batched frame: a socket's messages past it go in the next frame, and a
/// single message larger than it goes alone. Well under the platform's 1 MiB message
/// limit, so that a batch never makes a frame the socket could not carry.
pub const MAX_BATCHED_FRAME_BYTES: usize = 256 * 1024;

/// Message text an [`Outbox`] holds before its owner should send what it has: a group
/// commit's turn holds up to 64 changes, each with a text per distinct listen id it
/// reaches, and a subscriber chooses its listen ids. Sending at this mark splits a turn's
/// batched frames but keeps each socket's order. With [`MAX_JOINED_BYTES`] it bounds what
/// one send holds: the mark plus one change's texts, and the joined arrays.
pub const OUTBOX_SEND_AT_BYTES: usize = 4 * 1024 * 1024;

/// Bytes of batched frames (joined arrays) one [`Outbox::into_sends`] builds: an array is
/// shared only by sockets with the same run of messages, so sockets watching different
/// subsets of a turn's documents each need their own copy of what they get. Past this,
/// a socket's further runs go one message per frame (the texts it shares with other
/// sockets), as a plain socket's do: correct for a batched reader, and no copy.
pub const MAX_JOINED_BYTES: usize = OUTBOX_SEND_AT_BYTES;

/// A message text queued in an [`Outbox`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextId(usize);

/// The messages of one turn, per socket, in the order they were queued.
#[derive(Debug, Default)]
pub struct Outbox {
    texts: Vec<String>,
    /// The texts' bytes.
    bytes: usize,
    /// Sockets in the order of their first message, each with its messages in order.
    queued: Vec<(SocketId, Vec<TextId>)>,
    slot: HashMap<SocketId, usize>,
}

/// What to send: each send is a socket and the text of one frame.
#[derive(Debug, Default)]
pub struct Sends {
    /// Every frame's text, each built once.
    pub texts: Vec<String>,
    /// (socket, index into `texts`), a socket's frames in order.
    pub sends: Vec<(SocketId, usize)>,
    /// Messages the frames carry (a batched frame carries several).
    pub messages: usize,
}

impl Outbox {
    /// Keeps a message text for [`Outbox::queue`].
    pub fn text(&mut self, text: String) -> TextId {
        self.bytes += text.len();
        self.texts.push(text);
        TextId(self.texts.len() - 1)
    }

    /// Queues message `text` for socket `sid`, after what it already has.
    pub fn queue(&mut self, sid: SocketId, text: TextId) {
        let slot = *self.slot.entry(sid).or_insert_with(|| {
            self.queued.push((sid, Vec::new()));
            self.queued.len() - 1
        });
        self.queued[slot].1.push(text);
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Whether the texts held reached [`OUTBOX_SEND_AT_BYTES`]: time to send them.
    pub fn is_full(&self) -> bool {
        self.bytes >= OUTBOX_SEND_AT_BYTES
    }

    /// The frames to send. A socket for which `batched` is false gets each message as its
    /// own frame; one for which it is true gets its messages as JSON arrays of at most
    /// [`MAX_BATCHED_FRAME_BYTES`] (a lone message as itself, as it would alone).
    pub fn into_sends(self, batched: impl Fn(SocketId) -> bool) -> Sends {
        self.into_sends_within(batched, MAX_BATCHED_FRAME_BYTES)
    }

    /// [`Outbox::into_sends`] with batched frames of at most `cap` bytes.
    fn into_sends_within(self, batched: impl Fn(SocketId) -> bool, cap: usize) -> Sends {
        let Outbox { mut texts, queued, .. } = self;
        let mut messages = 0;
        let mut sends = Vec::new();
        let mut joined: HashMap<Vec<TextId>, usize> = HashMap::new();
        let mut joined_bytes = 0usize;
        for (sid, queue) in queued {
            messages += queue.len();
            if !batched(sid) || queue.len() == 1 {
                sends.extend(queue.iter().map(|t| (sid, t.0)));
                continue;
            }
            for run in runs(&queue, &texts, cap) {
                if let [one] = run {
                    sends.push((sid, one.0));
                    continue;
                }
                let index = match joined.get(run) {
                    Some(&index) => index,
                    None if joined_bytes + run_bytes(run, &texts) > MAX_JOINED_BYTES => {
                        // No more copies this turn: the run's messages go one by one.
                        sends.extend(run.iter().map(|t| (sid, t.0)));
                        continue;
                    }
                    None => {
                        let text = join(run, &texts);
                        joined_bytes += text.len();
                        texts.push(text);
                        joined.insert(run.to_vec(), texts.len() - 1);
                        texts.len() - 1
                    }
                };
                sends.push((sid, index));
            }
        }
        Sends { texts, sends, messages }
    }
}

/// Splits a socket's messages into runs whose array fits in `cap` bytes.
fn runs<'a>(queue: &'a [TextId], texts: &[String], cap: usize) -> Vec<&'a [TextId]> {
    let mut runs = Vec::new();
    let mut start = 0;
    // `[` and `]`, and a comma before each message but the first.
    let mut bytes = 1;
    for (i, text) in queue.iter().enumerate() {
        let len = texts[text.0].len() + 1;
        if i > start && bytes + len > cap {
            runs.push(&queue[start..i]);
            start = i;
            bytes = 1;
        }
        bytes += len;
    }
    runs.push(&queue[start..]);
    runs
}

/// The length of `run`'s array, `[a,b,…]`.
fn run_bytes(run: &[TextId], texts: &[String]) -> usize {
    run.iter().map(|t| texts[t.0].len() + 1).sum::<usize>() + 1
}

/// `[a,b,…]`.
fn join(run: &[TextId], texts: &[String]) -> String {
    let mut out = String::with_capacity(run.iter().map(|t| texts[t.0].len() + 1).sum::<usize>() + 1);
    out.push('[');
    for (i, text) in run.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&texts[text.0]);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Each socket's messages as it reads them: a frame that is an array is its elements.
    fn read(sends: &Sends) -> HashMap<SocketId, Vec<String>> {
        let mut read: HashMap<SocketId, Vec<String>> = HashMap::new();
        for &(sid, i) in &sends.sends {
            let value: serde_json::Value = serde_json::from_str(&sends.texts[i]).expect("JSON");
            let got = read.entry(sid).or_default();
            match value {
                serde_json::Value::Array(items) => got.extend(items.iter().map(|v| v.to_string())),
                one => got.push(one.to_string()),
            }
        }
        read
    }

    fn message(n: usize) -> String {
        format!(r#"{{"type":"change","id":1,"seq":{n}}}"#)
    }

    #[test]
    fn a_batched_socket_gets_one_frame_and_a_plain_one_each_message() {
        let mut outbox = Outbox::default();
        let (a, b) = (outbox.text(message(1)), outbox.text(message(2)));
        for sid in [1, 2, 3] {
            outbox.queue(sid, a);
            outbox.queue(sid, b);
        }
        let sends = outbox.into_sends(|sid| sid != 2);
        assert_eq!(sends.messages, 6);
        let frames = |sid| sends.sends.iter().filter(|(s, _)| *s == sid).count();
        assert_eq!((frames(1), frames(2), frames(3)), (1, 2, 1));
        let array = sends.sends.iter().find(|(s, _)| *s == 1).map(|(_, i)| sends.texts[*i].clone());
        assert_eq!(array.as_deref(), Some(format!("[{},{}]", message(1), message(2)).as_str()));
        // Sockets 1 and 3 got the same array: joined once.
        assert_eq!(sends.texts.len(), 3);
    }

    #[test]
    fn an_outbox_is_full_at_the_mark() {
        let mut outbox = Outbox::default();
        let text = "x".repeat(OUTBOX_SEND_AT_BYTES / 2);
        outbox.text(text.clone());
        assert!(!outbox.is_full());
        outbox.text(text);
        assert!(outbox.is_full());
    }

    #[test]
    fn a_lone_message_goes_as_itself() {
        let mut outbox = Outbox::default();
        let a = outbox.text(message(1));
        outbox.queue(7, a);
        let sends = outbox.into_sends(|_| true);
        assert_eq!(sends.sends, [(7, 0)]);
        assert_eq!(sends.texts[0], message(1));
    }

    #[test]
    fn no_batched_frame_passes_the_cap_and_a_large_message_goes_alone() {
        let mut outbox = Outbox::default();
        let big = "x".repeat(MAX_BATCHED_FRAME_BYTES);
        let ids: Vec<TextId> = (0..5)
            .map(|n| outbox.text(if n == 2 { format!("\"{big}\"") } else { format!("\"{}\"", "y".repeat(100_000)) }))
            .collect();
        for &id in &ids {
            outbox.queue(1, id);
        }
        let sends = outbox.into_sends(|_| true);
        for &(_, i) in &sends.sends {
            let text = &sends.texts[i];
            assert!(text.len() <= MAX_BATCHED_FRAME_BYTES || !text.starts_with('['), "{} bytes", text.len());
        }
        assert_eq!(read(&sends)[&1].len(), 5);
    }

    /// A small cap for the property test, so that splits are common and the texts small.
    const TEST_CAP: usize = 2048;

    proptest! {
        /// Whatever is queued, each socket reads exactly its messages, in order, and no
        /// frame is larger than the cap unless it is one message; a plain socket's frames
        /// are its messages.
        #[test]
        fn every_socket_reads_its_messages_in_order(
            queued in prop::collection::vec((0u64..6, 0usize..8, 0usize..60), 0..80),
            batched in prop::collection::vec(any::<bool>(), 6),
        ) {
            let mut outbox = Outbox::default();
            let mut texts: Vec<(TextId, String)> = Vec::new();
            let mut want: HashMap<SocketId, Vec<String>> = HashMap::new();
            for (sid, pick, pad) in queued {
                // Reuse a text as a broadcast does, or make a new one.
                let (id, text) = match texts.get(pick) {
                    Some(t) => t.clone(),
                    None => {
                        let text = format!(r#"{{"n":{},"pad":"{}"}}"#, texts.len(), "p".repeat(pad * 20));
                        let id = outbox.text(text.clone());
                        texts.push((id, text.clone()));
                        (id, text)
                    }
                };
                outbox.queue(sid, id);
                want.entry(sid).or_default().push(text);
            }
            let sends = outbox.into_sends_within(|sid| batched[sid as usize], TEST_CAP);
            prop_assert_eq!(sends.messages, want.values().map(Vec::len).sum::<usize>());
            let canonical = |t: &String| serde_json::from_str::<serde_json::Value>(t).expect("JSON").to_string();
            let want: HashMap<SocketId, Vec<String>> =
                want.into_iter().map(|(s, m)| (s, m.iter().map(canonical).collect())).collect();
            prop_assert_eq!(read(&sends), want);
            for &(sid, i) in &sends.sends {
                let text = &sends.texts[i];
                if text.starts_with('[') {
                    prop_assert!(batched[sid as usize]);
                    prop_assert!(text.len() <= TEST_CAP);
                }
            }
        }
    }
}
