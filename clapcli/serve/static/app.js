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

$("collection").addEventListener("change", (event) => {
  collection = event.target.value;
  $("hits").innerHTML = "";
  status("");
  const q = $("query").value.trim();
  if (q) searchText(q);
});

// ---------------------------------------------------------------- search

function renderHits(result, what) {
  const list = $("hits");
  list.innerHTML = "";
  current = -1;
  status(`${result.hits.length} results for ${what} in ${result.collection}`);
  result.hits.forEach((hit) => {
    const li = document.createElement("li");
    li.className = "hit";
    li.dataset.id = hit.id;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = hit.name;
    name.title = hit.path;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = `score ${hit.score.toFixed(3)}` + (hit.duration != null ? ` · ${fmtSeconds(hit.duration)}` : "")
      + (hit.start != null ? ` · from ${fmtSeconds(hit.start)}` : "");
    const audio = document.createElement("audio");
    audio.controls = true;
    audio.preload = "metadata";
    audio.src = withToken(hit.audio_url);
    audio.setAttribute("aria-label", "Play " + hit.name);
    if (hit.start != null) {
      audio.addEventListener("loadedmetadata", () => { audio.currentTime = hit.start; }, { once: true });
    }
    const actions = document.createElement("div");
    actions.className = "actions";
    const more = document.createElement("button");
    more.type = "button";
    more.className = "secondary more";
    more.textContent = "More like this";
    more.addEventListener("click", () => moreLikeThis(hit));
    actions.appendChild(more);
    li.append(name, meta, audio, actions);
    list.appendChild(li);
  });
}

async function run(what, promise) {
  showError("");
  status("searching…");
  try {
    renderHits(await promise, what);
  } catch (err) {
    status("");
    showError(err.message);
  }
}

function searchText(q) {
  const url = `api/search/text?q=${encodeURIComponent(q)}&k=20&collection=${encodeURIComponent(collection)}`;
  return run(`“${q}”`, api(url));
}

function moreLikeThis(hit) {
  const url = `api/search/similar/${hit.id}?k=20&collection=${encodeURIComponent(collection)}`;
  return run(`sounds like ${hit.name}`, api(url));
}

function searchFile(file) {
  const form = new FormData();
  form.append("file", file);
  form.append("collection", collection);
  form.append("k", "20");
  return run(`sounds like ${file.name}`, api("api/search/audio", { method: "POST", body: form }));
}

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

function showPage() {
  const zs = location.hash === "#zeroshot";
  $("page-search").hidden = zs;
  $("page-zeroshot").hidden = !zs;
  $("nav-search").toggleAttribute("aria-current", !zs);
  $("nav-zeroshot").toggleAttribute("aria-current", zs);
  if (zs) $("nav-zeroshot").setAttribute("aria-current", "page"); else $("nav-search").setAttribute("aria-current", "page");
  showError("");
}
window.addEventListener("hashchange", showPage);

function select(index) {
  const hits = [...document.querySelectorAll(".hit")];
  if (!hits.length) return;
  current = Math.max(0, Math.min(hits.length - 1, index));
  hits.forEach((h, i) => h.classList.toggle("current", i === current));
  hits[current].querySelector(".more").focus();
  hits[current].scrollIntoView({ block: "nearest" });
}

document.addEventListener("keydown", (event) => {
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
  if (event.key === "/" && !typing) { event.preventDefault(); location.hash = "#search"; $("query").focus(); return; }
  if (typing || event.ctrlKey || event.metaKey || event.altKey || !$("page-zeroshot").hidden) return;
  const hits = [...document.querySelectorAll(".hit")];
  if (event.key === "j") select(current + 1);
  else if (event.key === "k") select(current - 1);
  else if ((event.key === "p" || event.key === "m") && hits[current]) {
    if (event.key === "m") { hits[current].querySelector(".more").click(); return; }
    const audio = hits[current].querySelector("audio");
    if (audio.paused) audio.play(); else audio.pause();
  }
});

showPage();
loadCollections().catch((err) => showError(err.message));
