// clapcli serve: the page. Plain JS, no build step, no CDN.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const token = params.get("token") || sessionStorage.getItem("clapcli-token");
if (token) sessionStorage.setItem("clapcli-token", token);

let collection = params.get("collection") || "";
let current = -1; // index of the selected hit (keyboard)

function withToken(url) {
  return token ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : url;
}

async function api(url, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token) headers["Authorization"] = "Bearer " + token;
  let response;
  try {
    response = await fetch(url, Object.assign({}, options, { headers }));
  } catch (err) {
    throw new Error("the server cannot be reached; is 'clap serve' still running?");
  }
  let body = null;
  try { body = await response.json(); } catch (err) { body = null; }
  if (!response.ok) {
    throw new Error((body && body.error) || ("the server answered " + response.status));
  }
  return body;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function status(message) { $("status").textContent = message; }

function fmtSeconds(s) {
  if (s === null || s === undefined) return "";
  const m = Math.floor(s / 60), r = s - 60 * m;
  return m ? `${m}:${r.toFixed(1).padStart(4, "0")}` : `${r.toFixed(1)} s`;
}

// ---------------------------------------------------------------- collections

async function loadCollections() {
  const select = $("collection");
  const list = await api("api/collections");
  select.innerHTML = "";
  for (const c of list) {
    const option = document.createElement("option");
    option.value = c.name;
    option.textContent = `${c.name} (${c.count})`;
    if ((collection && c.name === collection) || (!collection && c.default)) option.selected = true;
    select.appendChild(option);
  }
  collection = select.value;
}

function syncCollection() {
  const select = $("collection");
  if ([...select.options].some((o) => o.value === collection)) select.value = collection;
}

$("collection").addEventListener("change", (event) => {
  collection = event.target.value;
  $("hits").innerHTML = "";
  status("");
  const q = $("query").value.trim();
  if (q) searchText(q);
});

// ---------------------------------------------------------------- search

// The search lives in the URL (?q=...&k=...&page=... or ?similar=ID, &where=... per filter): bookmarkable,
// shareable, and back/forward re-run it. k is the page size; page N asks the server for the first N*k hits.
const MAX_K = 1000;
let last = null; // the search on screen: {q} or {similar, name}, with page, k and where
let where = new URLSearchParams(location.search).getAll("where"); // filters, as clap retrieve --where

function pageSize() {
  const k = parseInt(new URLSearchParams(location.search).get("k"), 10);
  return Number.isFinite(k) && k >= 1 ? Math.min(k, 100) : 20;
}

function stateUrl(state) {
  const url = new URLSearchParams();
  if (state.q) url.set("q", state.q);
  if (state.similar != null) url.set("similar", String(state.similar));
  if (collection) url.set("collection", collection);
  if (state.k !== 20) url.set("k", String(state.k));
  if (state.page > 1) url.set("page", String(state.page));
  for (const w of state.where || []) url.append("where", w);
  // A search shows on the search page, whichever view it was started from ("more like this" on the map)
  return "?" + url.toString() + (location.hash === "#search" ? location.hash : location.hash ? "#search" : "");
}

function fromUrl() {
  const url = new URLSearchParams(location.search);
  const page = Math.max(1, parseInt(url.get("page"), 10) || 1);
  const similar = url.get("similar");
  if (url.get("collection")) collection = url.get("collection");
  where = url.getAll("where");
  renderWhere();
  if (url.get("q")) return { q: url.get("q"), page, k: pageSize(), where };
  if (similar !== null && /^\d+$/.test(similar)) return { similar: parseInt(similar, 10), page, k: pageSize(), where };
  return null;
}

function go(state, push = true) {
  if (push) { history.pushState(null, "", stateUrl(state)); showPage(); }
  last = state;
  if (state.q) $("query").value = state.q;
  const wanted = Math.min(state.page * state.k, MAX_K);
  const filters = (state.where || []).map((w) => "&where=" + encodeURIComponent(w)).join("");
  const common = `k=${wanted}&collection=${encodeURIComponent(collection)}${filters}`;
  if (state.q) return run(state, `“${state.q}”`, api(`api/search/text?q=${encodeURIComponent(state.q)}&${common}`));
  return run(state, (r) => `sounds like ${r.query.split(/[\\/]/).pop()}`, api(`api/search/similar/${state.similar}?${common}`));
}

// ---------------------------------------------------------------- search filters (where)

function renderWhere() {
  const list = $("where-chips");
  list.innerHTML = "";
  for (const w of where) {
    const li = document.createElement("li");
    li.className = "chip";
    const text = document.createElement("span");
    text.textContent = w;
    li.append(text, button("remove", "×", "Remove the filter " + w, () => setWhere(where.filter((x) => x !== w))));
    list.appendChild(li);
  }
}

function setWhere(list) { // a new set of filters: the search on screen runs again with them, from page 1
  where = [...new Set(list)];
  renderWhere();
  if (last) { go(Object.assign({}, last, { page: 1, where })); return; }
  const url = new URLSearchParams(location.search);
  url.delete("where");
  for (const w of where) url.append("where", w);
  history.replaceState(null, "", "?" + url.toString() + location.hash);
}

$("where-input").addEventListener("keydown", (event) => {
  if (event.key !== "Enter") return;
  event.preventDefault();
  const text = event.target.value.trim();
  if (text) setWhere([...where, text]);
  event.target.value = "";
});

function button(cls, text, label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "secondary " + cls;
  b.textContent = text;
  b.title = label;
  b.setAttribute("aria-label", label);
  if (onClick) b.addEventListener("click", onClick);
  return b;
}

async function copyPath(hit) {
  try {
    await navigator.clipboard.writeText(hit.path);
  } catch (err) { // no clipboard permission (plain http on another host): the old way
    const area = document.createElement("textarea");
    area.value = hit.path;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  status("copied " + hit.path);
}

async function drawPeaks(canvas, hit) {
  const ctx = canvas.getContext("2d");
  const mid = canvas.height / 2;
  try {
    const p = await api(withToken(`${hit.peaks_url}?width=${canvas.width}`));
    ctx.fillStyle = "#2759c7";
    const step = canvas.width / p.width;
    for (let i = 0; i < p.width; i++) {
      const top = mid - Math.max(0, p.max[i]) * mid, bottom = mid - Math.min(0, p.min[i]) * mid;
      ctx.fillRect(i * step, top, Math.max(1, step), Math.max(1, bottom - top));
    }
    if (hit.start != null && p.duration > 0) { // the window that matched
      ctx.fillStyle = "rgba(240, 165, 0, .35)";
      const x0 = canvas.width * hit.start / p.duration, x1 = canvas.width * (hit.end ?? p.duration) / p.duration;
      ctx.fillRect(x0, 0, Math.max(2, x1 - x0), canvas.height);
    }
    canvas.dataset.state = "drawn";
  } catch (err) { // a placeholder line, the reason on hover
    ctx.fillStyle = "#bbb";
    ctx.fillRect(0, mid, canvas.width, 1);
    canvas.title = "no waveform: " + err.message;
    canvas.dataset.state = "failed";
  }
}

function hitRow(hit) {
  const li = document.createElement("li");
  li.className = "hit";
  li.dataset.id = hit.id;
  const wave = document.createElement("canvas");
  wave.className = "wave";
  wave.width = 96;
  wave.height = 36;
  const text = document.createElement("div");
  text.className = "text";
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = hit.relpath;
  name.title = hit.path;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = `#${hit.rank} · ${hit.score.toFixed(3)}` + (hit.duration != null ? ` · ${fmtSeconds(hit.duration)}` : "")
    + (hit.start != null ? ` · from ${fmtSeconds(hit.start)}` : "");
  text.append(name, meta);
  const audio = document.createElement("audio");
  audio.preload = "none";
  audio.src = withToken(hit.audio_url);
  audio.setAttribute("aria-label", "Play " + hit.relpath);
  let from = hit.start; // segment hits start at their window (the best one, or the one clicked)
  audio.addEventListener("loadedmetadata", () => { if (from != null) audio.currentTime = from; });
  const playFrom = (start) => {
    from = start;
    if (audio.readyState >= 1) audio.currentTime = start;
    audio.play();
  };
  for (const w of hit.windows || []) { // the file's next-best windows, best first
    const chip = button("window", fmtSeconds(w.start), `Play from ${fmtSeconds(w.start)} (score ${w.score.toFixed(3)})`,
      () => playFrom(w.start));
    chip.dataset.start = String(w.start);
    chip.dataset.score = String(w.score);
    meta.append(" ", chip);
  }
  const play = button("play", "▶", "Play " + hit.relpath, () => { if (audio.paused) audio.play(); else audio.pause(); });
  audio.addEventListener("play", () => { play.textContent = "❚❚"; });
  audio.addEventListener("pause", () => { play.textContent = "▶"; });
  const actions = document.createElement("div");
  actions.className = "actions";
  const download = document.createElement("a");
  download.className = "download";
  download.href = withToken(hit.audio_url + "?download=1");
  download.setAttribute("download", hit.name);
  download.textContent = "⬇";
  download.title = "Download " + hit.name;
  download.setAttribute("aria-label", download.title);
  actions.append(play, button("more", "≈", "More like this", () => moreLikeThis(hit)),
    button("copy", "copy", "Copy the path", () => copyPath(hit)), download);
  li.append(wave, text, actions, audio);
  drawPeaks(wave, hit);
  return li;
}

function renderHits(result, what, state) {
  const list = $("hits");
  list.innerHTML = "";
  current = -1;
  const page = state ? state.page : 1, k = state ? state.k : result.hits.length;
  const shown = state ? result.hits.slice((page - 1) * k, page * k) : result.hits;
  const more = state && result.hits.length >= page * k && page * k < MAX_K;
  if (page === 1 && !more) status(`${shown.length} results for ${what} in ${result.collection}`);
  else status(`results ${(page - 1) * k + (shown.length ? 1 : 0)}–${(page - 1) * k + shown.length} for ${what} `
    + `in ${result.collection} (page ${page})`);
  shown.forEach((hit) => list.appendChild(hitRow(hit)));
  $("pager").hidden = !state || (page === 1 && !more);
  $("prev").disabled = !state || page <= 1;
  $("next").disabled = !more;
  $("page-number").textContent = `page ${page}`;
}

async function run(state, what, promise) {
  showError("");
  status("searching…");
  try {
    const result = await promise;
    renderHits(result, typeof what === "function" ? what(result) : what, state);
  } catch (err) {
    status("");
    showError(err.message);
  }
}

function searchText(q) {
  return go({ q, page: 1, k: pageSize(), where });
}

function moreLikeThis(hit) {
  return go({ similar: hit.id, page: 1, k: pageSize(), where });
}

function searchFile(file) {
  const form = new FormData();
  form.append("file", file);
  form.append("collection", collection);
  form.append("k", "20");
  last = null;
  return run(null, `sounds like ${file.name}`, api("api/search/audio", { method: "POST", body: form }));
}

$("prev").addEventListener("click", () => { if (last) go(Object.assign({}, last, { page: last.page - 1 })); });
$("next").addEventListener("click", () => { if (last) go(Object.assign({}, last, { page: last.page + 1 })); });
window.addEventListener("popstate", () => {
  const state = fromUrl();
  if (state) { syncCollection(); go(state, false); return; }
  last = null; // back to the page before any search: an empty page again
  showPage();
  $("hits").innerHTML = "";
  $("query").value = "";
  $("pager").hidden = true;
  status("");
});

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = $("query").value.trim();
  if (q) searchText(q);
});
$("search-file").addEventListener("change", (event) => {
  if (event.target.files[0]) searchFile(event.target.files[0]);
  event.target.value = "";
});

function dropZone(zone, input, onFile) {
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (file) onFile(file);
  });
  zone.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); input.click(); }
  });
}
dropZone($("drop"), $("search-file"), searchFile);

// ---------------------------------------------------------------- zero-shot

let zsFile = null;
function setZsFile(file) {
  zsFile = file;
  $("zs-file-name").textContent = file ? file.name + " — or" : "Drop an audio file here, or";
}
dropZone($("zs-drop"), $("zs-file"), setZsFile);
$("zs-file").addEventListener("change", (event) => setZsFile(event.target.files[0] || null));

$("zs-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  if (!zsFile) { showError("pick or drop an audio file first"); return; }
  const form = new FormData();
  form.append("file", zsFile);
  form.append("labels", $("zs-labels").value);
  form.append("collection", collection);
  const bars = $("bars");
  try {
    const result = await api("api/classify", { method: "POST", body: form });
    if (result.method === "probe") {  // 'clap serve --probe': the probe's classes were scored, not the labels
      $("zs-labels").value = result.predictions.map((s) => s.label).sort().join(", ");
      $("zs-labels").readOnly = true;
    }
    bars.innerHTML = "";
    for (const s of result.predictions) {
      const li = document.createElement("li");
      li.className = "bar";
      const label = document.createElement("span");
      label.className = "label";
      label.textContent = s.label;
      const track = document.createElement("span");
      track.className = "track";
      track.setAttribute("role", "meter");
      track.setAttribute("aria-valuemin", "0");
      track.setAttribute("aria-valuemax", "1");
      track.setAttribute("aria-valuenow", String(s.score));
      track.setAttribute("aria-label", s.label);
      const fill = document.createElement("span");
      fill.className = "fill";
      fill.style.width = (100 * s.score).toFixed(1) + "%";
      fill.style.display = "block";
      track.appendChild(fill);
      const value = document.createElement("span");
      value.className = "value";
      value.textContent = (100 * s.score).toFixed(1) + "%";
      li.append(label, track, value);
      bars.appendChild(li);
    }
  } catch (err) {
    bars.innerHTML = "";
    showError(err.message);
  }
});

// ---------------------------------------------------------------- pages and keys

// Each view is a section, named in the URL's fragment (#search, #zeroshot, #map, #duplicates, #tags).
const PAGES = ["search", "zeroshot", "map", "duplicates", "tags"];
const pageShown = () => PAGES.find((name) => location.hash === "#" + name) || "search";

function showPage() {
  const shown = pageShown();
  for (const name of PAGES) {
    $("page-" + name).hidden = name !== shown;
    if (name === shown) $("nav-" + name).setAttribute("aria-current", "page");
    else $("nav-" + name).removeAttribute("aria-current");
  }
  showError("");
  document.dispatchEvent(new CustomEvent("clapcli:page", { detail: shown }));
}
window.addEventListener("hashchange", showPage);

// The hit rows of the view on screen (search, duplicates, a tag's items): j/k/p/m act on them
const visibleHits = () => [...document.querySelectorAll("main > section:not([hidden]) .hit")];

function select(index) {
  const hits = visibleHits();
  if (!hits.length) return;
  current = Math.max(0, Math.min(hits.length - 1, index));
  hits.forEach((h, i) => h.classList.toggle("current", i === current));
  (hits[current].querySelector(".more") || hits[current].querySelector(".play")).focus();
  hits[current].scrollIntoView({ block: "nearest" });
}

document.addEventListener("keydown", (event) => {
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
  if (event.key === "/" && !typing) { event.preventDefault(); location.hash = "#search"; $("query").focus(); return; }
  if (typing || event.ctrlKey || event.metaKey || event.altKey || !$("page-zeroshot").hidden) return;
  const hits = visibleHits();
  if (event.key === "j") select(current + 1);
  else if (event.key === "k") select(current - 1);
  else if ((event.key === "p" || event.key === "m") && hits[current]) {
    if (event.key === "m") { const more = hits[current].querySelector(".more"); if (more) more.click(); return; }
    const audio = hits[current].querySelector("audio");
    if (audio.paused) audio.play(); else audio.pause();
  }
});

showPage();
const initial = fromUrl();
const collectionsLoaded = loadCollections(); // the views (views.js) load their data once it is known
collectionsLoaded.then(() => {
  if (initial) { syncCollection(); go(initial, false); }
}).catch((err) => showError(err.message));
