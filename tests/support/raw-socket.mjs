// A subscriber socket kept raw, for tests of frames as the feed sends them: every frame's
// text and when it came, a batched frame (a JSON array, `hookfeed.batch`) read as its
// messages, and a wait for the sockets to fall quiet.

/** Opens `GET /feed` offering `protocols`, the token beside them. */
export async function openRaw(edge, protocols, token) {
  const ws = new WebSocket(`${edge.url.replace("http", "ws")}/feed`, [...protocols, token]);
  const socket = { ws, frames: [], at: [] };
  ws.addEventListener("message", (e) => {
    socket.frames.push(e.data);
    socket.at.push(Date.now());
  });
  socket.closed = new Promise((ok) => ws.addEventListener("close", (e) => ok(e.code)));
  await new Promise((ok, fail) => {
    ws.addEventListener("open", ok, { once: true });
    ws.addEventListener("error", () => fail(new Error("WebSocket failed to open")), { once: true });
  });
  return socket;
}

/** The messages a socket read, in order: a batched frame is its elements. */
export const messagesOf = (socket) => socket.frames.flatMap((f) => {
  const v = JSON.parse(f);
  return Array.isArray(v) ? v : [v];
});

/** The batched frames a socket read. */
export const arraysOf = (socket) => socket.frames.filter((f) => f.startsWith("["));

/** Waits until no socket has received a frame for `quietMs` (at most `maxMs`). */
export async function settle(sockets, quietMs = 600, maxMs = 15_000) {
  const t0 = Date.now();
  let last = -1;
  for (;;) {
    const n = sockets.reduce((a, s) => a + s.frames.length, 0);
    if (n === last || Date.now() - t0 > maxMs) return;
    last = n;
    await new Promise((r) => setTimeout(r, quietMs));
  }
}
