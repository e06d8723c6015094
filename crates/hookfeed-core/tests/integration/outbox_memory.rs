//! The memory of one turn's frames (found by the second attack review): the send mark
//! bounds a turn's message texts, but batched frames are joined per distinct run of
//! messages, and sockets that watch different subsets of a group commit's documents each
//! need their own array. Before the joined budget (`MAX_JOINED_BYTES`), 100 batched sockets
//! of one ordinary `projects/*` token, each on a different half of 64 changes of 60 KiB,
//! made one send build 149 MiB of frames from 3.8 MiB of texts.
//!
//! The shape is what `Subscribers::broadcast` builds when 64 deliveries commit in one group
//! and each socket holds document listens on its half, listen id = document number (so the
//! texts are shared, as the feed shares them per (listen id, kind)).
use std::collections::HashMap;

use hookfeed_core::fanout::{Outbox, Sends, OUTBOX_SEND_AT_BYTES};

const CHANGES: usize = 64;
const DOC_BYTES: usize = 60 * 1024;
const SOCKETS: u64 = 100;

fn watches(socket: u64, doc: usize) -> bool {
    // A different half of the documents for each socket (a fixed pseudo-random subset).
    let mut x = socket.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (doc as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    x & 1 == 1
}

fn sends_bytes(sends: &Sends) -> usize {
    sends.texts.iter().map(String::len).sum()
}

#[test]
fn a_turns_frames_stay_within_the_send_mark_and_the_joined_budget() {
    let pad = "x".repeat(DOC_BYTES);
    let mut outbox = Outbox::default();
    let mut peak = 0usize;
    let mut frames_per_socket: HashMap<u64, usize> = HashMap::new();
    let mut flush = |outbox: Outbox, peak: &mut usize| {
        let sends = outbox.into_sends(|_| true);
        *peak = (*peak).max(sends_bytes(&sends));
        for (sid, _) in &sends.sends {
            *frames_per_socket.entry(*sid).or_default() += 1;
        }
    };
    for doc in 0..CHANGES {
        // One text per (listen id, kind), shared by every socket that listens with that id.
        let text = outbox.text(format!(
            r#"{{"type":"change","id":{doc},"seq":{},"path":"projects/{doc}","kind":"modified","data":{{"pad":"{pad}"}}}}"#,
            doc + 1
        ));
        for sid in 0..SOCKETS {
            if watches(sid, doc) {
                outbox.queue(sid, text);
            }
        }
        if outbox.is_full() {
            flush(std::mem::take(&mut outbox), &mut peak);
        }
    }
    flush(outbox, &mut peak);
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    eprintln!(
        "{SOCKETS} batched sockets, {CHANGES} changes of {} KiB: the message texts are {:.1} MiB, the frames built at once {:.1} MiB",
        DOC_BYTES / 1024,
        mib(CHANGES * (DOC_BYTES + 100)),
        mib(peak)
    );
    // The promise: the mark plus one change's texts (and, generously, the mark again for
    // the arrays themselves).
    let bound = 2 * OUTBOX_SEND_AT_BYTES + DOC_BYTES + 1024;
    assert!(
        peak <= bound,
        "one send holds {:.1} MiB of frame texts, past {:.1} MiB (and the Workers isolate limit is 128 MiB)",
        mib(peak),
        mib(bound)
    );
}

/// With sockets past the joined budget, each still reads exactly its messages, in order.
#[test]
fn every_socket_reads_its_messages_in_order_past_the_joined_budget() {
    let pad = "x".repeat(DOC_BYTES);
    let mut outbox = Outbox::default();
    let mut want: HashMap<u64, Vec<String>> = HashMap::new();
    for doc in 0..CHANGES {
        let body = format!(r#"{{"type":"change","id":{doc},"seq":{},"pad":"{pad}"}}"#, doc + 1);
        let text = outbox.text(body.clone());
        for sid in 0..SOCKETS {
            if watches(sid, doc) {
                outbox.queue(sid, text);
                want.entry(sid).or_default().push(body.clone());
            }
        }
    }
    let sends = outbox.into_sends(|_| true);
    let mut got: HashMap<u64, Vec<String>> = HashMap::new();
    for &(sid, i) in &sends.sends {
        let v: serde_json::Value = serde_json::from_str(&sends.texts[i]).expect("JSON");
        let out = got.entry(sid).or_default();
        match v {
            serde_json::Value::Array(items) => out.extend(items.iter().map(|m| m.to_string())),
            one => out.push(one.to_string()),
        }
    }
    let canon = |t: &String| serde_json::from_str::<serde_json::Value>(t).expect("JSON").to_string();
    let want: HashMap<u64, Vec<String>> = want.into_iter().map(|(s, m)| (s, m.iter().map(canon).collect())).collect();
    assert!(got == want, "each socket reads its messages in order");
}
