// kpalette's page: one upload, counted once by the server; every control refits that
// histogram through the uploads API (see docs/cli.md, "kpalette serve"). No framework,
// nothing fetched from anywhere but this server.
"use strict";

const $ = (id) => document.getElementById(id);
const els = {
  file: $("file"), k: $("k"), kValue: $("k-value"), compare: $("compare"), hint: $("hint"),
  before: $("before"), preview: $("preview"), clip: $("after-clip"), divider: $("divider"),
  zoom: $("zoom"), status: $("status"), auto: $("auto"), psnr: $("psnr"), psnrGo: $("psnr-go"),
  size: $("size"), sizeGo: $("size-go"), quality: $("quality"), qualityGo: $("quality-go"),
  qualityValue: $("quality-value"), why: $("why"), colorspace: $("colorspace"), tune: $("tune"),
  dither: $("dither"), strength: $("strength"), seed: $("seed"), summary: $("summary"),
  palette: $("palette"), format: $("format"), download: $("download"), error: $("error"),
  cloudDetails: $("cloud-details"), cloud: $("cloud"), dropzone: $("dropzone"),
};
const PALETTE_FORMATS = ["gpl", "json", "css", "hex"];

const state = {
  upload: null,         // the server's answer to POST /api/uploads
  issued: 0,            // sequence number of the newest preview asked for
  shown: 0,             // sequence number of the preview on screen
  inFlight: false,      // a preview request is on its way (at most one)
  timer: 0,             // debounce of the slider
  detailTimer: 0,       // the full-size numbers, once the slider rests
  detail: null,         // AbortController of the full-size numbers' request
  uploadAbort: null,    // AbortController of an upload in progress
  zoom: false,
  center: null,         // [x, y] in image pixels: the middle of the 1:1 view
  split: 50,            // the divider, in % of the width
  previewUrl: null,
  beforeUrl: null,
  beforeKey: "",
  plotly: null,         // a promise of window.Plotly, once the cloud is opened
};

// -- helpers ----------------------------------------------------------------------------
function kB(bytes) {
  if (bytes == null) return "…";
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}
function setStatus(text) { els.status.textContent = text || ""; }
// An upload's error stays until the next upload: a preview of the image before it,
// answered late, must not clear it.
function setError(text, from = "work") { els.error.textContent = text || ""; state.errorFrom = text ? from : null; }
async function errorOf(response) {
  try { return (await response.json()).error || `HTTP ${response.status}`; }
  catch { return `HTTP ${response.status}`; }
}
function fitParams(extra = {}) {
  const params = new URLSearchParams({
    k: els.k.value,
    tune: els.tune.value,
    colorspace: els.colorspace.value,
    dither: els.dither.checked ? els.strength.value : "0",
    seed: els.seed.value || "0",
  });
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  return params;
}
function api(path, params) {
  const base = `/api/uploads/${encodeURIComponent(state.upload.id)}/${path}`;
  return params ? `${base}?${params}` : base;
}
function settingsKey() { return fitParams({ format: els.format.value }).toString(); }

// The region shown: the whole image shrunk to the stage, or at 1:1 a crop of the
// stage's size around state.center.
function viewParams() {
  const { width, height } = state.upload;
  const box = els.compare.getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  if (!state.zoom) {
    const wanted = Math.ceil(Math.max(box.width, 320) * ratio);
    const side = Math.min(2048, Math.max(16, Math.round(wanted * Math.max(width, height) / width)));
    return new URLSearchParams({ side: String(side) });
  }
  const w = Math.min(width, Math.max(16, Math.round(box.width)));
  const h = Math.min(height, Math.max(16, Math.round(box.height)));
  let [cx, cy] = state.center || [width / 2, height / 2];
  cx = Math.min(Math.max(cx, w / 2), width - w / 2);
  cy = Math.min(Math.max(cy, h / 2), height - h / 2);
  state.center = [cx, cy];
  return new URLSearchParams({
    x: String(Math.round(cx - w / 2)), y: String(Math.round(cy - h / 2)),
    w: String(w), h: String(h), side: String(Math.min(4096, Math.max(w, h, 16))),
  });
}
function withView(params) {
  for (const [key, value] of viewParams()) params.set(key, value);
  return params;
}

// -- uploading ----------------------------------------------------------------------------
async function upload(file) {
  if (!file) return;
  setError("");
  if (state.uploadAbort) state.uploadAbort.abort();
  const abort = (state.uploadAbort = new AbortController());
  setStatus(`Reading ${file.name || "the pasted image"} (${kB(file.size)})…`);
  const form = new FormData();
  form.append("image", file, file.name || "pasted.png");
  let response;
  try {
    response = await fetch("/api/uploads", { method: "POST", body: form, signal: abort.signal });
  } catch (err) {
    if (err.name !== "AbortError") { setError(`The upload failed: ${err.message}`, "upload"); setStatus(""); }
    return;
  }
  if (abort !== state.uploadAbort) return;  // another file was dropped meanwhile
  if (!response.ok) { setError(await errorOf(response), "upload"); setStatus(""); return; }
  const info = await response.json();
  const previous = state.upload;
  state.upload = info;
  if (previous) fetch(`/api/uploads/${encodeURIComponent(previous.id)}`, { method: "DELETE" }).catch(() => {});
  state.center = null;
  state.beforeKey = "";
  els.hint.hidden = true;
  els.compare.hidden = false;
  for (const el of [els.k, els.auto, els.psnrGo, els.sizeGo, els.qualityGo, els.zoom]) el.disabled = false;
  els.why.textContent = "";
  els.summary.dataset.state = "pending";
  const animated = info.frames > 1
    ? ` · an animation of ${info.frames} frames: the page shows the first; a GIF, PNG or WebP download keeps all ${info.frames} over one palette`
    : "";
  setStatus(`${info.name || "image"}: ${info.width}×${info.height}, ${info.colors.toLocaleString()} colours, ${kB(info.bytes)}${animated}`);
  requestPreview(0);
}

// -- the preview: at most one request in flight, the newest settings asked next ----------
function requestPreview(delay = 40) {
  if (!state.upload) return;
  clearTimeout(state.timer);
  clearTimeout(state.detailTimer);
  if (state.detail) state.detail.abort();
  state.issued += 1;
  els.kValue.textContent = els.k.value;
  markDownloads();
  state.timer = setTimeout(sendPreview, delay);
}

async function sendPreview() {
  if (state.inFlight || !state.upload) return;  // sent again when the one in flight answers
  const seq = state.issued;
  const upload = state.upload;
  const params = withView(fitParams());
  state.inFlight = true;
  els.compare.classList.add("busy");
  try {
    await Promise.all([showBefore(upload), showPreview(upload, params, seq)]);
  } finally {
    state.inFlight = false;
    els.compare.classList.remove("busy");
  }
  if (state.issued > seq) sendPreview();  // settings changed while it was on its way
  else scheduleDetails();
}

async function showBefore(upload) {
  const params = viewParams();
  const key = `${upload.id}?${params}`;
  if (key === state.beforeKey) return;
  const response = await fetch(api("original", params));
  if (!response.ok || upload !== state.upload) return;
  const url = URL.createObjectURL(await response.blob());
  await loaded(els.before, url);
  if (state.beforeUrl) URL.revokeObjectURL(state.beforeUrl);
  state.beforeUrl = url;
  state.beforeKey = key;
  placeImages();
}

async function showPreview(upload, params, seq) {
  let response;
  try {
    response = await fetch(api("preview", params));
  } catch (err) {
    setError(`The server did not answer: ${err.message}`);
    return;
  }
  // An answer older than the one on screen, or for another image, is dropped.
  if (upload !== state.upload || seq <= state.shown) return;
  if (!response.ok) { setError(await errorOf(response)); return; }
  const numbers = JSON.parse(response.headers.get("X-Kpalette-Summary"));
  const url = URL.createObjectURL(await response.blob());
  await loaded(els.preview, url);
  if (upload !== state.upload || seq <= state.shown) { URL.revokeObjectURL(url); return; }
  state.shown = seq;
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  state.previewUrl = url;
  els.preview.dataset.k = String(numbers.k);
  if (state.errorFrom !== "upload") setError("");
  placeImages();
  showPalette(numbers);
  showNumbers(numbers, null);
}

function loaded(img, url) {
  return new Promise((resolve) => {
    img.onload = img.onerror = () => resolve();
    img.src = url;
  });
}

// -- the full-size numbers (exact bytes; with dithering, the measures too) ---------------
function scheduleDetails() {
  clearTimeout(state.detailTimer);
  state.detailTimer = setTimeout(fetchDetails, 250);
}

async function fetchDetails() {
  if (!state.upload) return;
  const key = settingsKey();
  const upload = state.upload;
  const abort = (state.detail = new AbortController());
  let response;
  try {
    response = await fetch(api("summary", fitParams({ format: els.format.value })), { signal: abort.signal });
  } catch {
    return;  // replaced by newer settings
  }
  if (upload !== state.upload || key !== settingsKey()) return;
  if (!response.ok) { setError(await errorOf(response)); return; }
  const summary = await response.json();
  showNumbers(summary, summary);
  showPalette(summary);
  markDownloads(summary.file_name);
  if (els.cloudDetails.open) drawCloud();
}

function showNumbers(numbers, full) {
  const upload = state.upload;
  const rows = [
    ["Before", `${kB(upload.bytes)} · ${upload.width}×${upload.height} · ${upload.colors.toLocaleString()} colours`],
    ["After", full ? `${kB(full.output_bytes)} ${full.format.toUpperCase()}${full.frames > 1 ? `, all ${full.frames} frames (the numbers below: the first)` : ""}` : "… (encoding the full size)"],
    ["Ratio", full ? `${full.ratio.toFixed(2)}× (${(100 / full.ratio).toFixed(1)}% of the input)` : "…"],
    ["PSNR", numbers.psnr == null ? (numbers.mse === 0 ? "identical" : "…") : `${numbers.psnr.toFixed(2)} dB`],
    ["Mean CIEDE2000", numbers.delta_e == null ? "…" : numbers.delta_e.toFixed(2)],
    ["Colours used", `${numbers.colors} (k = ${numbers.k})`],
  ];
  const dl = document.createElement("dl");
  for (const [name, value] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    dl.append(dt, dd);
  }
  els.summary.replaceChildren(dl);
  els.summary.dataset.state = full ? "full" : "preview";
  els.summary.dataset.k = String(numbers.k);
}

function showPalette(numbers) {
  const children = numbers.palette.map((hex, i) => {
    const share = numbers.shares[i];
    const button = document.createElement("button");
    button.type = "button";
    button.className = "swatch";
    button.style.setProperty("--c", hex);
    button.title = `${hex}, ${(share * 100).toFixed(1)}% of the pixels: click to copy`;
    button.dataset.hex = hex;
    const chip = document.createElement("i");
    const code = document.createElement("span");
    code.textContent = hex;
    const part = document.createElement("small");
    part.textContent = `${(share * 100).toFixed(1)}%`;
    button.append(chip, code, part);
    return button;
  });
  els.palette.replaceChildren(...children);
}

async function copyHex(hex) {
  try {
    await navigator.clipboard.writeText(hex);
  } catch {
    const field = document.createElement("textarea");
    field.value = hex;
    document.body.append(field);
    field.select();
    document.execCommand("copy");
    field.remove();
  }
  setStatus(`Copied ${hex}`);
}

function markDownloads(fileName) {
  const ready = Boolean(state.upload);
  const format = els.format.value;
  const links = [[els.download, ready ? api("download", fitParams({ format })) : "#"]];
  for (const fmt of PALETTE_FORMATS) {
    links.push([$(`palette-${fmt}`), ready ? api("palette", fitParams({ format: fmt })) : "#"]);
  }
  for (const [link, href] of links) {
    link.href = href;
    link.classList.toggle("disabled", !ready);
    link.setAttribute("aria-disabled", String(!ready));
  }
  if (ready) {
    const stem = (state.upload.name || "image").replace(/\.[^.]*$/, "") || "image";
    els.download.download = fileName || `${stem}-k${els.k.value}.${format}`;
    els.download.textContent = `Download ${format.toUpperCase()}`;
    for (const fmt of PALETTE_FORMATS) $(`palette-${fmt}`).download = `${stem}-k${els.k.value}-palette.${fmt}`;
  }
}

// -- choosing k: auto, a target PSNR, a file size ------------------------------------------
async function choose(extra, label) {
  if (!state.upload) return;
  const params = fitParams({ format: els.format.value, ...extra });
  els.why.textContent = `${label}: searching…`;
  for (const el of [els.auto, els.psnrGo, els.sizeGo, els.qualityGo]) el.disabled = true;
  try {
    const response = await fetch(api("choose", params));
    if (!response.ok) { els.why.textContent = `${label}: ${await errorOf(response)}`; return; }
    const choice = await response.json();
    els.k.value = String(choice.k);
    els.why.textContent = `${label}: k = ${choice.k}, ${choice.reason}.`;
    requestPreview(0);
  } catch (err) {
    els.why.textContent = `${label}: ${err.message}`;
  } finally {
    for (const el of [els.auto, els.psnrGo, els.sizeGo, els.qualityGo]) el.disabled = !state.upload;
  }
}

// -- before/after: the divider, and 1:1 zoom with panning -------------------------------
function setSplit(percent) {
  state.split = Math.min(100, Math.max(0, percent));
  els.clip.style.clipPath = `inset(0 0 0 ${state.split}%)`;
  els.divider.style.left = `${state.split}%`;
  els.divider.setAttribute("aria-valuenow", String(Math.round(state.split)));
}

function placeImages(dx = 0, dy = 0) {
  if (!state.zoom) {
    for (const img of [els.before, els.preview]) img.style.transform = "";
    return;
  }
  // The crop is drawn 1:1 (CSS pixels), centred in the stage.
  const box = els.compare.getBoundingClientRect();
  for (const img of [els.before, els.preview]) {
    const left = (box.width - img.naturalWidth) / 2 + dx;
    const top = (box.height - img.naturalHeight) / 2 + dy;
    img.style.transform = `translate(${left}px, ${top}px)`;
  }
}

function setZoom(on) {
  state.zoom = on;
  els.zoom.setAttribute("aria-pressed", String(on));
  els.zoom.textContent = on ? "Fit to the page" : "Zoom 1:1";
  els.compare.classList.toggle("zoomed", on);
  els.compare.tabIndex = on ? 0 : -1;
  state.beforeKey = "";
  requestPreview(0);
}

function pan(dx, dy) {
  if (!state.zoom || !state.upload) return;
  const [cx, cy] = state.center || [state.upload.width / 2, state.upload.height / 2];
  state.center = [cx - dx, cy - dy];
  state.beforeKey = "";
  requestPreview(30);
}

function dividerFrom(event) {
  const box = els.compare.getBoundingClientRect();
  setSplit(((event.clientX - box.left) / box.width) * 100);
}

// -- the 3-D cloud (Plotly, served by this server) ----------------------------------------
function loadPlotly() {
  if (!state.plotly) {
    state.plotly = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/static/plotly.min.js";
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => { state.plotly = null; reject(new Error("cannot load /static/plotly.min.js")); };
      document.head.append(script);
    });
  }
  return state.plotly;
}

async function drawCloud() {
  if (!state.upload) return;
  const upload = state.upload;
  const key = settingsKey();
  let Plotly, data;
  try {
    const response = await fetch(api("cloud", fitParams()));
    if (!response.ok) { setError(await errorOf(response)); return; }
    [Plotly, data] = await Promise.all([loadPlotly(), response.json()]);
  } catch (err) {
    setError(`The 3-D cloud: ${err.message}`);
    return;
  }
  if (upload !== state.upload || key !== settingsKey()) return;
  const rgb = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;
  const top = Math.max(...data.counts);
  const fg = getComputedStyle(document.body).color;
  const traces = [
    {
      type: "scatter3d", mode: "markers", name: `colours (${data.colors.length.toLocaleString()} of ${data.n_colors.toLocaleString()})`,
      x: data.colors.map((c) => c[0]), y: data.colors.map((c) => c[1]), z: data.colors.map((c) => c[2]),
      marker: { size: data.counts.map((n) => 2 + 6 * Math.sqrt(n / top)), color: data.colors.map(rgb), opacity: 0.7 },
      hoverinfo: "skip",
    },
    {
      type: "scatter3d", mode: "markers", name: `centroids (k = ${data.centers.length})`,
      x: data.centers.map((c) => c[0]), y: data.centers.map((c) => c[1]), z: data.centers.map((c) => c[2]),
      marker: { size: data.shares.map((s) => 6 + 18 * Math.sqrt(s)), color: data.centers.map(rgb), symbol: "diamond", line: { color: fg, width: 2 } },
      text: data.centers.map((c, i) => `${rgb(c)} · ${(data.shares[i] * 100).toFixed(1)}%`), hoverinfo: "text",
    },
  ];
  const axis = (title) => ({ title: { text: title }, range: [0, 255], color: fg });
  Plotly.react(els.cloud, traces, {
    paper_bgcolor: "rgba(0,0,0,0)", font: { color: fg }, margin: { l: 0, r: 0, t: 10, b: 0 },
    scene: { xaxis: axis("R"), yaxis: axis("G"), zaxis: axis("B") }, legend: { orientation: "h" },
  }, { responsive: true, displaylogo: false });
}

// -- wiring ---------------------------------------------------------------------------------
els.file.addEventListener("change", () => upload(els.file.files[0]));
// A note on how k was chosen holds only for the settings it was chosen with.
const staleNote = () => { els.why.textContent = ""; };
els.k.addEventListener("input", () => { staleNote(); requestPreview(); });
for (const el of [els.tune, els.colorspace, els.seed]) el.addEventListener("change", () => { staleNote(); requestPreview(0); });
els.dither.addEventListener("change", () => { staleNote(); els.strength.disabled = !els.dither.checked; requestPreview(0); });
els.strength.addEventListener("change", () => { staleNote(); requestPreview(0); });
els.format.addEventListener("change", () => { staleNote(); markDownloads(); scheduleDetails(); });
els.auto.addEventListener("click", () => choose({ k: "auto" }, "Auto"));
els.quality.addEventListener("input", () => { els.qualityValue.textContent = els.quality.value; });
els.qualityGo.addEventListener("click", () => choose({ k: "", quality: els.quality.value }, `Quality ≥ ${els.quality.value}`));
els.psnrGo.addEventListener("click", () => choose({ k: "", target_psnr: els.psnr.value }, `PSNR ≥ ${els.psnr.value} dB`));
els.sizeGo.addEventListener("click", () => choose({ k: "", max_bytes: String(Math.round(Number(els.size.value) * 1000)) }, `At most ${els.size.value} kB`));
els.palette.addEventListener("click", (event) => {
  const swatch = event.target.closest(".swatch");
  if (swatch) copyHex(swatch.dataset.hex);
});
for (const link of [els.download, ...PALETTE_FORMATS.map((f) => $(`palette-${f}`))]) {
  link.addEventListener("click", (event) => { if (!state.upload) event.preventDefault(); });
}
els.zoom.addEventListener("click", () => setZoom(!state.zoom));
els.cloudDetails.addEventListener("toggle", () => { if (els.cloudDetails.open) drawCloud(); });

// The divider: dragged with a pointer, or moved with the arrow keys.
els.divider.addEventListener("pointerdown", (event) => {
  event.stopPropagation();
  els.divider.setPointerCapture(event.pointerId);
  const move = (e) => dividerFrom(e);
  const up = () => { els.divider.removeEventListener("pointermove", move); els.divider.removeEventListener("pointerup", up); };
  els.divider.addEventListener("pointermove", move);
  els.divider.addEventListener("pointerup", up);
});
els.divider.addEventListener("keydown", (event) => {
  const step = event.shiftKey ? 10 : 2;
  const moves = { ArrowLeft: -step, ArrowRight: step, Home: -100, End: 100 };
  if (event.key in moves) { setSplit(state.split + moves[event.key]); event.preventDefault(); }
});
// At 1:1 the picture is dragged (or moved with the arrow keys) to pan; otherwise a
// click on it moves the divider.
els.compare.addEventListener("pointerdown", (event) => {
  if (!state.zoom) { dividerFrom(event); return; }
  els.compare.setPointerCapture(event.pointerId);
  els.compare.classList.add("dragging");
  const start = [event.clientX, event.clientY];
  const move = (e) => placeImages(e.clientX - start[0], e.clientY - start[1]);
  const up = (e) => {
    els.compare.classList.remove("dragging");
    els.compare.removeEventListener("pointermove", move);
    els.compare.removeEventListener("pointerup", up);
    pan(e.clientX - start[0], e.clientY - start[1]);
  };
  els.compare.addEventListener("pointermove", move);
  els.compare.addEventListener("pointerup", up);
});
els.compare.addEventListener("keydown", (event) => {
  if (!state.zoom || event.target !== els.compare) return;
  const step = event.shiftKey ? 200 : 50;
  const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
  if (event.key in moves) { pan(...moves[event.key]); event.preventDefault(); }
});

// Drop anywhere, or paste.
let dragDepth = 0;
document.addEventListener("dragenter", (event) => {
  if (![...event.dataTransfer.types].includes("Files")) return;
  dragDepth += 1;
  els.dropzone.hidden = false;
});
document.addEventListener("dragleave", () => { dragDepth = Math.max(0, dragDepth - 1); if (!dragDepth) els.dropzone.hidden = true; });
document.addEventListener("dragover", (event) => event.preventDefault());
document.addEventListener("drop", (event) => {
  event.preventDefault();
  dragDepth = 0;
  els.dropzone.hidden = true;
  const file = event.dataTransfer.files[0];
  if (file) upload(file);
});
document.addEventListener("paste", (event) => {
  const item = [...(event.clipboardData?.items || [])].find((i) => i.kind === "file");
  if (item) { upload(item.getAsFile()); event.preventDefault(); }
});
let resizeTimer = 0;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (state.upload) { state.beforeKey = ""; requestPreview(0); } }, 200);
});
setSplit(50);
markDownloads();
