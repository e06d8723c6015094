// A WebSocket subscriber speaking hookfeed's wire protocol, for tests: frames are queued
// and awaited by predicate, never by sleeping.

export class Subscriber {
  /**
   * Opens `GET /feed` with the token in Sec-WebSocket-Protocol, as browsers must. `headers`
   * adds request headers (Node's WebSocket can send them; browsers cannot).
   */
  static async connect(edge, token, { via = "protocol", headers } = {}) {
    const url = via === "query" ? `${edge.url.replace("http", "ws")}/feed?token=${token}` : `${edge.url.replace("http", "ws")}/feed`;
    const protocols = via === "query" ? [] : ["hookfeed", token];
    const ws = headers ? new WebSocket(url, { protocols, headers }) : new WebSocket(url, protocols);
    const sub = new Subscriber(ws);
    await new Promise((ok, fail) => {
      ws.addEventListener("open", ok, { once: true });
      ws.addEventListener("error", () => fail(new Error("WebSocket failed to open")), { once: true });
    });
    return sub;
  }

  constructor(ws) {
    this.ws = ws;
    this.frames = [];
    this.waiters = [];
    this.closed = new Promise((ok) => ws.addEventListener("close", (e) => ok(e), { once: true }));
    ws.addEventListener("message", (event) => {
      // The runtime answers "ping" with "pong", which is not JSON.
      let frame;
      try { frame = JSON.parse(event.data); } catch { frame = event.data; }
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => !w.check());
    });
  }

  send(frame) {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  listen(id, target, since) {
    this.send({ type: "listen", id, target, ...(since === undefined ? {} : { since }) });
  }

  /** Resolves with the first not-yet-taken frame matching `predicate`, in arrival order. */
  next(predicate = () => true, timeoutMs = 10_000) {
    return new Promise((ok, fail) => {
      const check = () => {
        const i = this.frames.findIndex(predicate);
        if (i < 0) return false;
        clearTimeout(timer);
        ok(this.frames.splice(i, 1)[0]);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.check !== check);
        fail(new Error(`no matching frame in ${timeoutMs} ms; have ${JSON.stringify(this.frames)}`));
      }, timeoutMs);
      if (!check()) this.waiters.push({ check });
    });
  }

  close() {
    this.ws.close(1000, "done");
    return this.closed;
  }
}
