//! Property: whatever the browser's cache holds (another user's records, stale ones, junk
//! with a seq ahead of the feed), however users switch and pages reload and resume, what a
//! listener shows once the feed has answered is exactly what the current token may read
//! now. The client's decisions are the ones the browser module makes (client.rs): the
//! cache key of a reader (`session::reader_key`), forgetting the views when it changes
//! (`View::forget`), and resuming with `View::since`. The feed is a model of its answers:
//! a delta after `since` for a token that reads the whole collection, a whole snapshot
//! for an owner-scoped one (and for a `since` it cannot answer).

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::session::{feed_url, reader_key};
use crate::view::{ChangeKind, DocData, Value, View};

#[derive(Debug, Clone, PartialEq)]
struct Doc {
    owner: u8,
    v: u32,
}

impl DocData for Doc {
    fn field(&self, _: &str) -> Option<Value> {
        None
    }
    fn same_as(&self, other: &Self) -> bool {
        self == other
    }
}

/// A token: its subject, and whether it reads the whole collection (`scopes: ["p/*"]`)
/// or only its subject's documents (`owner: {"p": "owner"}`).
#[derive(Debug, Clone, Copy)]
struct Token {
    sub: u8,
    all: bool,
}

impl Token {
    fn claims(self) -> String {
        let scopes = if self.all { r#"["p/*"]"# } else { r#"[],"owner":{"p":"owner"}"# };
        format!(r#"{{"tenant":"demo","sub":"u{}","scopes":{scopes}}}"#, self.sub)
    }
    fn reads(self, doc: &Doc) -> bool {
        self.all || doc.owner == self.sub
    }
}

#[derive(Default)]
struct Feed {
    head: u64,
    /// path → (data, seq of its last write).
    docs: BTreeMap<String, (Doc, u64)>,
    /// path → seq of its deletion.
    gone: BTreeMap<String, u64>,
}

type Docs = Vec<(String, Doc)>;

impl Feed {
    fn readable(&self, token: Token) -> Docs {
        self.docs.iter().filter(|(_, (d, _))| token.reads(d)).map(|(p, (d, _))| (p.clone(), d.clone())).collect()
    }

    /// The snapshot frame answering a listen: seq, docs, removed, whether a delta.
    fn answer(&self, token: Token, since: u64) -> (u64, Docs, Vec<String>, bool) {
        if since == 0 || !token.all || since > self.head {
            return (self.head, self.readable(token), Vec::new(), false);
        }
        let docs = self
            .docs
            .iter()
            .filter(|(_, (d, seq))| *seq > since && token.reads(d))
            .map(|(p, (d, _))| (p.clone(), d.clone()))
            .collect();
        let removed = self.gone.iter().filter(|(_, seq)| **seq > since).map(|(p, _)| p.clone()).collect();
        (self.head, docs, removed, true)
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// A webhook writes (or deletes) a document; a connected listener gets its change.
    Write { path: u8, owner: u8, v: u32, delete: bool },
    /// The socket drops; writes meanwhile are missed until the resume.
    Drop,
    /// The socket is back: listen again, with `since` as the module decides.
    Resume,
    /// A new token (getToken or updateToken), then listen again.
    Switch(Token),
    /// The page reloads: an empty view, the cache, then the listen.
    Reload,
    /// Something wrote this into the cache under the key of `Token`'s reader.
    Poison(Token, Vec<(u8, u8)>, u64),
}

fn token() -> impl Strategy<Value = Token> {
    (0u8..3, any::<bool>()).prop_map(|(sub, all)| Token { sub, all })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..6, 0u8..3, any::<u32>(), prop::bool::weighted(0.2))
            .prop_map(|(path, owner, v, delete)| Step::Write { path, owner, v, delete }),
        1 => Just(Step::Drop),
        2 => Just(Step::Resume),
        2 => token().prop_map(Step::Switch),
        1 => Just(Step::Reload),
        1 => (token(), prop::collection::vec((0u8..8, 0u8..3), 0..5), 0u64..64)
            .prop_map(|(t, docs, seq)| Step::Poison(t, docs, seq)),
    ]
}

struct Page {
    url: String,
    token: Token,
    key: String,
    view: View<Doc>,
    connected: bool,
    cache: BTreeMap<String, (u64, Docs)>,
}

impl Page {
    /// What the module does on load or on a reader change: the reader's cached records.
    fn load_cache(&mut self) {
        if let Some((seq, docs)) = self.cache.get(&self.key).cloned() {
            self.view.load_cached(seq, docs);
        }
    }

    /// Listens (as on every socket open) and applies the feed's answer.
    fn listen(&mut self, feed: &Feed) {
        let (seq, docs, removed, delta) = feed.answer(self.token, self.view.since());
        self.view.apply_snapshot(seq, docs, &removed, delta);
        self.connected = true;
    }

    fn save(&mut self) {
        self.cache.insert(self.key.clone(), (self.view.seq, self.view.docs().to_vec()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn after_the_feeds_answer_a_listener_shows_exactly_what_its_token_reads_now(
        first in token(),
        caches in prop::collection::vec((token(), prop::collection::vec((0u8..8, 0u8..3), 0..5), 0u64..64), 0..4),
        steps in prop::collection::vec(step(), 1..40),
    ) {
        let url = feed_url("http://127.0.0.1:8787");
        let poison = |cache: &mut BTreeMap<String, (u64, Docs)>, t: Token, docs: &[(u8, u8)], seq: u64| {
            let docs = docs.iter().map(|(p, owner)| (format!("p/{p}"), Doc { owner: *owner, v: 7 })).collect();
            cache.insert(reader_key(&url, &t.claims()), (seq, docs));
        };
        let mut cache = BTreeMap::new();
        for (t, docs, seq) in &caches {
            poison(&mut cache, *t, docs, *seq);
        }
        let mut feed = Feed::default();
        let key = reader_key(&url, &first.claims());
        let mut page = Page { url: url.clone(), token: first, key, view: View::new(Vec::new(), None), connected: false, cache };
        page.load_cache();
        page.listen(&feed);
        for step in steps {
            match step {
                Step::Write { path, owner, v, delete } => {
                    feed.head += 1;
                    let path = format!("p/{path}");
                    let was = feed.docs.get(&path).map(|(d, _)| d.clone());
                    let now = if delete {
                        feed.docs.remove(&path);
                        feed.gone.insert(path.clone(), feed.head);
                        None
                    } else {
                        feed.gone.remove(&path);
                        let doc = Doc { owner, v };
                        feed.docs.insert(path.clone(), (doc.clone(), feed.head));
                        Some(doc)
                    };
                    if !page.connected {
                        continue;
                    }
                    // The feed's change frame, for a document the token reads before or after.
                    let t = page.token;
                    match (was.filter(|d| t.reads(d)), now.filter(|d| t.reads(d))) {
                        (None, None) => {}
                        (_, None) => drop(page.view.apply_change(feed.head, &path, ChangeKind::Removed, None)),
                        (_, Some(doc)) => drop(page.view.apply_change(feed.head, &path, ChangeKind::Modified, Some(doc))),
                    }
                }
                Step::Drop => page.connected = false,
                Step::Resume => page.listen(&feed),
                Step::Switch(t) => {
                    let key = reader_key(&page.url, &t.claims());
                    if key != page.key {
                        page.key = key;
                        page.view.forget();
                        page.load_cache();
                    }
                    page.token = t;
                    page.listen(&feed);
                }
                Step::Reload => {
                    page.view = View::new(Vec::new(), None);
                    page.load_cache();
                    page.listen(&feed);
                }
                Step::Poison(t, docs, seq) => {
                    poison(&mut page.cache, t, &docs, seq);
                    continue;
                }
            }
            if page.connected {
                prop_assert_eq!(page.view.docs().to_vec(), feed.readable(page.token));
                page.save();
            }
        }
    }
}
