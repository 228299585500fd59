// clapcli serve: the map, duplicates and tags views. Loaded after app.js, whose helpers ($, api, button,
// hitRow, moreLikeThis, withToken, collection, pageShown, collectionsLoaded) it uses. Plain JS, no CDN.
// Every text from the library (paths, tag names, folders) is set with textContent, never as markup.
"use strict";

// ---------------------------------------------------------------- view state in the URL

function viewParam(name) { return new URLSearchParams(location.search).get(name); }

function setViewParams(values, push) { // push: a history entry (a new choice); else replace (a correction)
  const url = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(values)) {
    if (value === null || value === undefined || value === "") url.delete(key); else url.set(key, String(value));
  }
  const href = "?" + url.toString() + location.hash;
  if (push) history.pushState(null, "", href); else history.replaceState(null, "", href);
}

// The map and the duplicates are computed in the background: the server answers 202 {computing} until
// they are ready. Ask again each second while the view is on screen and still wants that answer.
async function whenReady(url, page, isCurrent, onWait) {
  for (;;) {
    const body = await api(url);
    if (!body || !body.computing) return body;
    if (pageShown() !== page || !isCurrent()) return null;
    onWait(body.computing);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function pager(prefix, page, hasMore, onPage) {
  $(prefix + "-pager").hidden = page === 1 && !hasMore;
  $(prefix + "-prev").disabled = page <= 1;
  $(prefix + "-next").disabled = !hasMore;
  $(prefix + "-page").textContent = `page ${page}`;
  $(prefix + "-prev").onclick = () => onPage(page - 1);
  $(prefix + "-next").onclick = () => onPage(page + 1);
}

// A form with one number kept in the URL as ``param``: a new value is a history entry, from page 1.
function numberForm(form, input, param, pageParam, [low, high], refusal, reload) {
  $(form).addEventListener("submit", (event) => {
    event.preventDefault();
    const value = parseFloat($(input).value);
    if (!(value >= low && value <= high)) { showError(refusal); return; }
    showError("");
    setViewParams({ [param]: value, [pageParam]: null }, true);
    reload();
  });
}

function urlNumber(name, fallback, low, high) {
  const value = parseFloat(viewParam(name));
  return Number.isFinite(value) && value >= low && value <= high ? value : fallback;
}

// ---------------------------------------------------------------- map

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
  "#bcbd22", "#393b79", "#e7969c", "#637939"];
const OTHER = "#c4c4c4"; // groups beyond the palette share it (as clap map's legend does)
let map = null; // {key, data, order (point indices left to right), selected, width, height}
let mapSeq = 0;

const groupColour = (group) => (group < PALETTE.length ? PALETTE[group] : OTHER);

async function loadMap() {
  const color = ["auto", "tag", "folder"].includes(viewParam("color")) ? viewParam("color") : "auto";
  $("map-color").value = color;
  const key = collection + "\n" + color;
  if (map && map.key === key) { drawMap(); return; }
  const seq = ++mapSeq;
  $("map-status").textContent = "loading the map…";
  try {
    const url = `api/map?collection=${encodeURIComponent(collection)}&color=${encodeURIComponent(color)}`;
    const data = await whenReady(url, "map", () => seq === mapSeq,
      (message) => { $("map-status").textContent = message; });
    if (!data || seq !== mapSeq) return;
    const order = data.points.map((_, i) => i).sort((a, b) => data.points[a].x - data.points[b].x);
    map = { key, data, order, selected: -1 };
    const by = data.color === "tag" ? "best tag" : "folder";
    $("map-status").textContent = `${data.shown} items of ${data.collection}, ${data.method.toUpperCase()}, coloured by ${by}`
      + (data.shown < data.total ? ` — an even sample of ${data.shown} of its ${data.total} items` : "");
    legend(data);
    drawMap();
  } catch (err) {
    if (seq !== mapSeq) return;
    $("map-status").textContent = "";
    showError(err.message);
  }
}

function legend(data) {
  const list = $("map-legend");
  list.innerHTML = "";
  const named = data.groups.slice(0, PALETTE.length);
  const rest = data.groups.slice(PALETTE.length).reduce((sum, g) => sum + g.count, 0);
  const entries = named.map((g, i) => [g.name, g.count, PALETTE[i]]);
  if (rest) entries.push(["other", rest, OTHER]);
  for (const [name, count, colour] of entries) {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colour;
    const text = document.createElement("span");
    text.textContent = `${name} (${count})`;
    li.append(swatch, text);
    list.appendChild(li);
  }
}

// Where point i is drawn, in CSS pixels of the canvas (y grows upwards on the map).
function mapPosition(i) {
  const p = map.data.points[i], pad = 12;
  return [pad + p.x * (map.width - 2 * pad), map.height - pad - p.y * (map.height - 2 * pad)];
}

function drawMap() {
  if (!map) return;
  const canvas = $("map-canvas");
  const ratio = window.devicePixelRatio || 1;
  map.width = canvas.clientWidth || 900;
  map.height = Math.round(Math.min(map.width * 0.55, 560));
  canvas.style.height = map.height + "px";
  canvas.width = Math.round(map.width * ratio);
  canvas.height = Math.round(map.height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, map.width, map.height);
  const points = map.data.points;
  const size = points.length > 5000 ? 2 : points.length > 500 ? 3.5 : points.length > 100 ? 6 : 9;
  // Grey "other" first, so the named groups stay visible on top of it
  for (const pass of [true, false]) {
    points.forEach((p, i) => {
      if ((p.group >= PALETTE.length) !== pass) return;
      const [x, y] = mapPosition(i);
      ctx.fillStyle = groupColour(p.group);
      ctx.beginPath();
      ctx.arc(x, y, size / 2, 0, 2 * Math.PI);
      ctx.fill();
    });
  }
  if (map.selected >= 0) {
    const [x, y] = mapPosition(map.selected);
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(x, y, size / 2 + 4, 0, 2 * Math.PI);
    ctx.stroke();
  }
  canvas.dataset.state = "drawn";
  canvas.dataset.points = String(points.length);
}

function nearestPoint(event) {
  if (!map) return -1;
  const box = $("map-canvas").getBoundingClientRect();
  const mx = event.clientX - box.left, my = event.clientY - box.top;
  let best = -1, bestDistance = 10 * 10; // within 10 px
  for (let i = 0; i < map.data.points.length; i++) {
    const [x, y] = mapPosition(i);
    const distance = (x - mx) ** 2 + (y - my) ** 2;
    if (distance < bestDistance) { best = i; bestDistance = distance; }
  }
  return best;
}

function describePoint(p) {
  const group = map.data.groups[p.group].name;
  return p.relpath + (p.start != null ? ` from ${fmtSeconds(p.start)}` : "") + ` — ${group}`;
}

function selectPoint(i) {
  map.selected = i;
  drawMap();
  const current = $("map-current");
  current.innerHTML = "";
  if (i < 0) return;
  const p = map.data.points[i];
  const text = document.createElement("span");
  text.className = "map-path";
  text.textContent = describePoint(p);
  current.append(text, " ", button("play", "▶", "Play " + p.relpath, () => playPoint(i)),
    " ", button("more", "≈", "More like this", () => moreLikeThis({ id: p.id })));
}

function playPoint(i) {
  const p = map.data.points[i];
  const audio = $("map-audio");
  if (audio.dataset.id === String(p.id) && audio.dataset.collection === map.data.collection) {
    if (audio.paused) audio.play(); else audio.pause();
    return;
  }
  if (map.selected !== i) selectPoint(i);
  audio.dataset.id = String(p.id);
  audio.dataset.collection = map.data.collection;
  audio.src = withToken(`api/audio/${encodeURIComponent(map.data.collection)}/${p.id}`);
  audio.onloadedmetadata = () => { if (p.start != null) audio.currentTime = p.start; };
  audio.play().catch(() => {}); // a refused autoplay leaves the controls to the user
}

$("map-canvas").addEventListener("mousemove", (event) => {
  const i = nearestPoint(event), tip = $("map-tip");
  $("map-canvas").style.cursor = i >= 0 ? "pointer" : "default";
  if (i < 0) { tip.hidden = true; return; }
  tip.textContent = describePoint(map.data.points[i]);
  const [x, y] = mapPosition(i);
  tip.style.left = Math.min(x + 10, map.width - 220) + "px";
  tip.style.top = (y + 12) + "px";
  tip.hidden = false;
});
$("map-canvas").addEventListener("mouseleave", () => { $("map-tip").hidden = true; });
$("map-canvas").addEventListener("click", (event) => {
  const i = nearestPoint(event);
  if (i >= 0) playPoint(i);
});
$("map-canvas").addEventListener("keydown", (event) => {
  if (!map || !map.order.length) return;
  const at = map.order.indexOf(map.selected);
  if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
    event.preventDefault();
    const step = event.key === "ArrowRight" ? 1 : -1;
    const next = at < 0 ? (step > 0 ? 0 : map.order.length - 1) : Math.max(0, Math.min(map.order.length - 1, at + step));
    selectPoint(map.order[next]);
  } else if ((event.key === "Enter" || event.key === " ") && map.selected >= 0) {
    event.preventDefault();
    playPoint(map.selected);
  }
});
$("map-color").addEventListener("change", (event) => {
  setViewParams({ color: event.target.value === "auto" ? null : event.target.value }, true);
  loadMap();
});
window.addEventListener("resize", () => { if (pageShown() === "map") drawMap(); });

// ---------------------------------------------------------------- duplicates

const GROUPS_PER_PAGE = 20;
let dupsSeq = 0;

async function loadDuplicates() {
  const threshold = urlNumber("threshold", 0.98, 0.5, 1);
  const page = Math.max(1, parseInt(viewParam("gpage"), 10) || 1);
  $("dups-threshold").value = String(threshold);
  const seq = ++dupsSeq;
  const box = $("dups-groups");
  $("dups-status").textContent = "looking for duplicates…";
  try {
    const url = `api/duplicates?collection=${encodeURIComponent(collection)}&threshold=${threshold}`
      + `&offset=${(page - 1) * GROUPS_PER_PAGE}&limit=${GROUPS_PER_PAGE}`;
    const data = await whenReady(url, "duplicates", () => seq === dupsSeq,
      (message) => { $("dups-status").textContent = message; });
    if (!data || seq !== dupsSeq) return;
    const how = data.fingerprinter ? `durations and Chromaprint fingerprints (${data.fingerprinter})`
      : "durations (no fingerprinter found)";
    $("dups-status").textContent = `${data.total} groups of near-duplicates among ${data.items} files of `
      + `${data.collection} (similarity ≥ ${data.threshold}, confirmed by ${how}; ${data.candidates} candidate `
      + "pairs). Nothing is deleted or moved.";
    box.innerHTML = "";
    for (const group of data.groups) box.appendChild(groupBox(group));
    pager("dups", page, page * GROUPS_PER_PAGE < data.total, (to) => {
      setViewParams({ gpage: to > 1 ? to : null }, true);
      loadDuplicates();
    });
  } catch (err) {
    if (seq !== dupsSeq) return;
    $("dups-status").textContent = "";
    box.innerHTML = "";
    showError(err.message);
  }
}

function groupBox(group) {
  const section = document.createElement("section");
  section.className = "group";
  const title = document.createElement("h3");
  title.textContent = `Group ${group.number} · ${group.members.length} files`;
  const list = document.createElement("ol");
  group.members.forEach((m, i) => {
    const li = hitRow({ id: m.id, rank: i + 1, score: m.similarity, path: m.path, relpath: m.relpath,
      name: m.relpath.split("/").pop(), duration: m.duration, start: null, end: null, windows: [],
      audio_url: m.audio_url, peaks_url: m.peaks_url });
    li.classList.add(m.keep ? "keep" : "copy");
    const meta = li.querySelector(".meta");
    meta.textContent = (m.keep ? "keep · " : "") + `similarity ${m.similarity.toFixed(4)}`
      + (m.fingerprint != null ? ` · fingerprint ${m.fingerprint.toFixed(3)}` : "") + ` · ${m.format}`
      + (m.rate ? ` · ${m.rate} Hz` : "") + (m.bits ? ` · ${m.bits}-bit` : "")
      + (m.duration != null ? ` · ${fmtSeconds(m.duration)}` : "");
    const reason = document.createElement("span");
    reason.className = "reason";
    reason.textContent = m.reason;
    meta.after(reason);
    list.appendChild(li);
  });
  section.append(title, list);
  return section;
}

numberForm("dups-form", "dups-threshold", "threshold", "gpage", [0.5, 1],
  "the threshold is a cosine similarity between 0.5 and 1", loadDuplicates);

// ---------------------------------------------------------------- tags

const TAG_ITEMS_PER_PAGE = 20;
let tagsSeq = 0;

async function loadTags() {
  const seq = ++tagsSeq;
  const list = $("tag-list");
  try {
    const data = await api(`api/tags?collection=${encodeURIComponent(collection)}`);
    if (seq !== tagsSeq) return;
    list.innerHTML = "";
    if (data.hint) { // no tags: one line saying how to make them
      $("tags-status").textContent = data.hint;
      $("tags-form").hidden = true;
      $("tag-items").innerHTML = "";
      $("tag-items-status").textContent = "";
      $("tags-pager").hidden = true;
      return;
    }
    $("tags-status").textContent = `${data.tagged} of ${data.items} items of ${data.collection} tagged by `
      + `${data.model}; the count is how many items have the tag as their best.`;
    const chosen = viewParam("tag");
    for (const tag of data.labels) {
      const li = document.createElement("li");
      const chip = button("tag", `${tag.label} (${tag.top})`, `List the items tagged ${tag.label}`, () => {
        setViewParams({ tag: tag.label, tpage: null }, true);
        loadTags();
      });
      chip.setAttribute("aria-pressed", String(tag.label === chosen));
      chip.dataset.label = tag.label;
      li.appendChild(chip);
      list.appendChild(li);
    }
    if (chosen !== null) loadTagItems(chosen, seq);
    else { $("tags-form").hidden = true; $("tag-items").innerHTML = ""; $("tag-items-status").textContent = ""; }
  } catch (err) {
    if (seq === tagsSeq) showError(err.message);
  }
}

async function loadTagItems(label, seq) {
  const min = urlNumber("min", 0.5, 0, 1);
  const page = Math.max(1, parseInt(viewParam("tpage"), 10) || 1);
  $("tags-form").hidden = false;
  $("tags-min").value = String(min);
  const search = new URLSearchParams();
  search.set("collection", collection);
  search.append("where", `tag:${label}>=${min}`);
  $("tags-search").href = "?" + search.toString() + "#search";
  const items = $("tag-items");
  try {
    const data = await api(`api/tags/items?collection=${encodeURIComponent(collection)}&label=`
      + `${encodeURIComponent(label)}&min=${min}&k=${TAG_ITEMS_PER_PAGE}&offset=${(page - 1) * TAG_ITEMS_PER_PAGE}`);
    if (seq !== tagsSeq) return;
    $("tag-items-status").textContent = `${data.total} items score “${data.label}” at least ${data.min}`
      + (data.total > TAG_ITEMS_PER_PAGE ? ` (page ${page})` : "");
    items.innerHTML = "";
    current = -1;
    data.hits.forEach((hit) => items.appendChild(hitRow(hit)));
    pager("tags", page, page * TAG_ITEMS_PER_PAGE < data.total, (to) => {
      setViewParams({ tpage: to > 1 ? to : null }, true);
      loadTags();
    });
  } catch (err) {
    if (seq !== tagsSeq) return;
    items.innerHTML = "";
    $("tag-items-status").textContent = "";
    showError(err.message);
  }
}

numberForm("tags-form", "tags-min", "min", "tpage", [0, 1], "the score is between 0 and 1", loadTags);

// ---------------------------------------------------------------- which view loads when

const LOADERS = { map: loadMap, duplicates: loadDuplicates, tags: loadTags };

function loadView(page) {
  if (LOADERS[page]) collectionsLoaded.then(() => LOADERS[page]());
}

document.addEventListener("clapcli:page", (event) => loadView(event.detail));
window.addEventListener("popstate", () => loadView(pageShown())); // back/forward within a view
$("collection").addEventListener("change", () => loadView(pageShown()));
loadView(pageShown());
