// The demo page: live status of projects and videos, written against the Firestore API
// hookfeed polyfills. Only the imports and initializeFeed() differ from a Firestore page.
import { initializeFeed, collection, query, orderBy, onSnapshot } from "/hookfeed/index.js";

const $ = (selector) => document.querySelector(selector);
const connection = $("#connection");
const setConnection = (state, text) => {
  connection.dataset.state = state;
  $("#connection-text").textContent = text;
};

const health = await (await fetch("/healthz")).json();
for (const s of health.sources) {
  const row = $("#sources tbody").insertRow();
  for (const value of [s.name, s.scheme, s.tenant, `POST ${location.origin}/hooks/${s.name}`]) row.insertCell().textContent = value;
}

// In development the Worker mints demo tokens; in production your backend does.
const fetchToken = async () => (await (await fetch("/dev/token")).json()).token;
if (!health.dev_mode) {
  setConnection("error", "dev mode is off: this page needs a subscriber token from your backend");
  throw new Error("HOOKFEED_DEV_MODE is not set");
}
const db = initializeFeed({ url: location.origin, token: await fetchToken(), getToken: fetchToken });

function render(list, snapshot, describe) {
  list.replaceChildren();
  if (snapshot.empty) {
    list.innerHTML = '<li class="empty muted">Nothing yet.</li>';
    return;
  }
  snapshot.forEach((doc) => list.append(describe(doc.id, doc.data())));
}

function job(title, data, { url, thumbnail, error }) {
  const item = document.createElement("li");
  item.className = "job";
  item.dataset.status = data.status ?? "unknown";
  const name = document.createElement("span");
  name.className = "title";
  name.textContent = title;
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.dataset.status = data.status ?? "";
  badge.textContent = data.status ?? "unknown";
  item.append(name, badge);
  if (data.status === "processing" || data.status === "created") {
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = Number(data.progress ?? 0);
    bar.title = `${bar.value}%`;
    item.append(bar);
  }
  if (data.status === "completed" && url) {
    const result = document.createElement("div");
    result.className = "result";
    const img = document.createElement("img");
    img.alt = "";
    img.src = thumbnail ?? "";
    // Thumbnails live on the provider's CDN; offline, show a plain placeholder instead.
    img.onerror = () => img.replaceWith(Object.assign(document.createElement("span"), { className: "thumb", textContent: "▶" }));
    const link = document.createElement("a");
    link.href = url;
    link.className = "video-link";
    link.textContent = "Watch the video";
    result.append(img, link);
    item.append(result);
  }
  if (data.status === "failed") {
    const message = document.createElement("div");
    message.className = "error";
    message.textContent = error ?? "Generation failed";
    item.append(message);
  }
  return item;
}

const onError = (error) => setConnection("error", `${error.code}: ${error.message}`);

onSnapshot(query(collection(db, "projects"), orderBy("project_id", "desc")), { includeMetadataChanges: true }, (snapshot) => {
  setConnection(snapshot.metadata.fromCache ? "offline" : "live", snapshot.metadata.fromCache ? "offline: showing the last known state" : "live");
  render($("#projects"), snapshot, (id, data) =>
    job(`Project ${id}`, data, { url: data.final_video_url, thumbnail: data.thumbnail_url, error: data.error_message }));
}, onError);

onSnapshot(collection(db, "videos"), (snapshot) => {
  render($("#videos"), snapshot, (id, data) =>
    job(`Video ${id}`, data, { url: data.videoUrl, thumbnail: data.thumbnailUrl, error: data.error?.message }));
}, onError);

// Dev-mode buttons: a sequence of signed deliveries, spaced like a real job.
$("#dev").hidden = false;
const send = (source, event, set) =>
  fetch("/dev/send", { method: "POST", body: JSON.stringify({ source, event, set }) }).then((r) => r.json());
const pause = (ms) => new Promise((ok) => setTimeout(ok, ms));

async function runProject(fail) {
  const id = Math.floor(Date.now() / 1000) % 100000;
  await send("twin-actor", "project.created", { project_id: id });
  for (const progress of [20, 45, 70, 90]) {
    await pause(600);
    await send("twin-actor", "project.processing", { project_id: id, progress });
  }
  await pause(600);
  await send("twin-actor", fail ? "project.failed" : "project.completed", {
    project_id: id,
    ...(fail ? {} : { video_url: `https://storage.twin.actor/videos/project_${id}_final.mp4` }),
  });
}

$("#run-project").onclick = () => runProject(false);
$("#fail-project").onclick = () => runProject(true);
$("#run-video").onclick = () => send("percify", "video.completed", { videoId: `video_${Date.now() % 100000}` });

// What providers also do, through the public /hooks route as they would: /dev/sign signs a
// sample (or forges one) and the page posts it, once or twice, in the order it likes.
const sign = (source, event, set, options = {}) =>
  fetch("/dev/sign", { method: "POST", body: JSON.stringify({ source, event, set, ...options }) }).then((r) => r.json());
const post = (signed) =>
  fetch(signed.path, { method: "POST", headers: { "Content-Type": "application/json", ...signed.headers }, body: signed.body });
const projectId = () => Math.floor(Date.now() / 1000) % 100000;

$("#send-duplicate").onclick = async () => {
  const delivery = await sign("twin-actor", "project.processing", { project_id: projectId(), progress: 50 });
  await post(delivery);
  await post(delivery);
};
$("#send-late").onclick = async () => {
  const id = projectId();
  const newer = await sign("twin-actor", "project.processing", { project_id: id, progress: 80 });
  const older = await sign("twin-actor", "project.processing", { project_id: id, progress: 30 }, { older_by_secs: 30 });
  await post(newer);
  await post(older);
};
$("#send-forged").onclick = async () => post(await sign("twin-actor", "project.completed", { project_id: projectId() }, { forge: true }));

// The delivery log beside the documents, as it grows: each delivery's outcome, the
// document it changed, or why it was refused.
const OUTCOMES = { stored: "stored", out_of_order: "out of order", duplicate: "duplicate", conflict: "conflict", rejected: "refused" };
const shown = new Set();
function delivery(row) {
  const item = document.createElement("li");
  item.className = "delivery";
  item.dataset.outcome = row.outcome;
  item.dataset.cursor = row.cursor;
  const outcome = document.createElement("span");
  outcome.className = "outcome";
  outcome.textContent = OUTCOMES[row.outcome] ?? row.outcome;
  const what = document.createElement("span");
  what.className = "what";
  what.textContent = `${new Date(row.at).toLocaleTimeString()} · ${row.source} · ${row.event_type ?? `HTTP ${row.status}`}`;
  const why = document.createElement("span");
  why.className = "why";
  why.textContent = row.outcome === "rejected" ? `${row.code}: ${row.message}` : row.message ?? "";
  item.append(outcome, what, why);
  return item;
}
async function refreshDeliveries() {
  const res = await fetch("/dev/deliveries?limit=30");
  if (!res.ok) return;
  const { deliveries } = await res.json();
  if (deliveries.length === 0) return;
  const list = $("#deliveries");
  list.replaceChildren(...deliveries.map((row) => {
    const item = delivery(row);
    if (shown.size > 0 && !shown.has(row.cursor)) item.classList.add("fresh");
    return item;
  }));
  for (const row of deliveries) shown.add(row.cursor);
}
await refreshDeliveries();
setInterval(refreshDeliveries, 1000);
