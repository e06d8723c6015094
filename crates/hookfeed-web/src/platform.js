// What the browser module needs of the platform, written in JS because web-sys's
// bindings of it cost the download several times these lines: IndexedDB for the cache, and
// reading a token's claims. The platform's calls only, none of the module's decisions
// (keys, what to keep and evict: persist.rs; what a token's claims mean: client.rs).
// Any IndexedDB failure means "no database": loads answer undefined, writes are dropped.

/** A JWT's claims (base64url JSON, the middle part), or undefined when unreadable. */
export function claimsOf(token) {
  try {
    const parts = token.split(".");
    const claims = parts.length === 3 && JSON.parse(atob(parts[1].replace(/-/g, "+").replace(/_/g, "/")));
    return claims && typeof claims === "object" ? claims : undefined;
  } catch {}
}

const STORES = ["views", "used"];

/** Opens the cache; `done(used)` with the `used` store's entries once open, `done()` if it cannot be. */
export function idbOpen(done) {
  const h = { q: [] };
  const settle = (db, used) => {
    if (!h.q) return; // blocked, then opened after all: the first outcome stands
    if (h.closed) db?.close();
    else h.db = db;
    const waiting = h.q;
    h.q = null;
    for (const [key, loaded] of waiting) idbGet(h, key, loaded);
    done(used);
  };
  try {
    // Version 2 keys records by reader: upgrading drops version 1's, keyed by tenant alone.
    const r = indexedDB.open("hookfeed", 2);
    r.onupgradeneeded = () => {
      for (const s of STORES) {
        try { r.result.deleteObjectStore(s); } catch {}
        r.result.createObjectStore(s);
      }
    };
    r.onsuccess = () => {
      const db = r.result;
      // Another page deletes or upgrades the database: let it, and go on in memory.
      db.onversionchange = () => idbClose(h);
      const g = db.transaction("used").objectStore("used").getAll();
      g.onsuccess = () => settle(db, g.result);
      g.onerror = () => settle(db, []);
    };
    r.onerror = r.onblocked = () => settle();
  } catch {
    // Later, as the other outcomes: the caller holds the handle by then.
    setTimeout(settle);
  }
  return h;
}

/** `done(record)` with what is stored under `key`, or `done()`. */
export function idbGet(h, key, done) {
  if (h.q) return h.q.push([key, done]);
  try {
    const g = h.db.transaction("views").objectStore("views").get(key);
    g.onsuccess = () => done(g.result);
    g.onerror = () => done();
  } catch {
    done();
  }
}

/** One transaction: `puts` of `[key, record, documents]` (each noted in `used` as written now), then `deletes` of keys. */
export function idbWrite(h, puts, deletes) {
  try {
    const t = h.db.transaction(STORES, "readwrite");
    const [views, used] = STORES.map((s) => t.objectStore(s));
    for (const [key, record, docs] of puts) {
      views.put(record, key);
      used.put([key, Date.now(), docs], key);
    }
    for (const key of deletes) {
      views.delete(key);
      used.delete(key);
    }
  } catch {}
}

/** Closes the database (pending writes still complete). */
export function idbClose(h) {
  h.db?.close();
  h.db = null;
  h.closed = true;
}

/** Deletes the database: a promise, rejected with a FirebaseError `internal` on an error. */
export function idbDelete() {
  return new Promise((ok, fail) => {
    try {
      const r = indexedDB.deleteDatabase("hookfeed");
      r.onsuccess = () => ok();
      r.onerror = () => fail(Object.assign(Error(r.error), { name: "FirebaseError", code: "internal" }));
    } catch {
      ok(); // no IndexedDB: nothing to delete
    }
  });
}
