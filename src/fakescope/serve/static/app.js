// fakescope web page: pick or drop a picture, send it to /api/predict, show the verdict.
"use strict";

const $ = (id) => document.getElementById(id);

const state = {
  file: null,
  previewUrl: null,
  previewBroken: false, // the browser cannot show this file (TIFF, or not a picture)
  result: null,
  maxUploadBytes: null,
  request: 0, // answers to older requests are ignored when a newer one is in flight
};

function formatBytes(n) {
  const units = [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]];
  for (const [unit, size] of units) {
    if (n >= size) return `${+(n / size).toPrecision(3)} ${unit}`;
  }
  return `${n} bytes`;
}

// As fakescope.formatting.format_probability: one decimal, more where one would round
// to 0 or 100, and "0 %" or "100 %" only when the value is exactly that.
function percent(p) {
  if (p <= 0) return "0 %";
  if (p >= 1) return "100 %";
  const value = 100 * p;
  for (const decimals of [1, 2]) {
    const shown = Number(value.toFixed(decimals));
    if (shown > 0 && shown < 100) return `${value.toFixed(decimals)} %`;
  }
  return value < 50 ? "<0.01 %" : ">99.99 %";
}

const VERDICTS = {
  fake: "Likely generated (fake)",
  real: "Likely a real photo",
  uncertain: "Uncertain",
};

// The joint decision of pixels and provenance (docs/verdicts.md), shown above both.
const DECISIONS = {
  generated: "Treat as generated",
  "likely-generated": "Likely generated",
  review: "Needs a person's review",
  uncertain: "Uncertain",
  "likely-real": "Likely a real photo",
  captured: "Signed camera capture",
};

function headers() {
  const key = $("api-key-input").value.trim();
  return key ? { "X-API-Key": key } : {};
}

async function errorText(response) {
  try {
    const body = await response.json();
    if (body && body.error) return body.error;
  } catch (_) {
    // not JSON: fall through to the status line
  }
  return `the server answered ${response.status} ${response.statusText}`;
}

function setStatus(text) {
  $("status").textContent = text;
}

function showError(text) {
  $("decision").hidden = true;
  $("verdict").hidden = true;
  $("provenance-panel").hidden = true;
  const box = $("error");
  box.textContent = text;
  box.hidden = false;
  setStatus("The picture could not be analysed.");
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function showPreview(file) {
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  state.previewUrl = URL.createObjectURL(file);
  const img = $("preview-image");
  state.previewBroken = false;
  img.hidden = false;
  img.src = state.previewUrl;
  $("preview-caption").textContent = `${file.name} · ${formatBytes(file.size)}`;
  $("preview").hidden = false;
  $("drop-label").classList.add("compact");
  $("clear-button").hidden = false;
  $("gradcam-image").hidden = true;
  $("gradcam-image").removeAttribute("src");
}

function showGradcam() {
  const wanted = $("gradcam-toggle").checked;
  const png = state.result && state.result.gradcam_png;
  const overlay = $("gradcam-image");
  if (wanted && png) {
    overlay.src = `data:image/png;base64,${png}`;
    overlay.hidden = false;
    $("preview-image").hidden = true;
  } else {
    overlay.hidden = true;
    $("preview-image").hidden = state.previewBroken;
  }
}

function showResult(result) {
  state.result = result;
  clearError();
  const verdictName = result.verdict || result.label;
  const verdict = $("verdict");
  for (const name of Object.keys(VERDICTS)) verdict.classList.toggle(`is-${name}`, name === verdictName);
  $("verdict-label").textContent = VERDICTS[verdictName] || verdictName;
  const p = result.probability_fake;
  const low = result.band_low ?? result.threshold;
  const high = result.band_high ?? result.threshold;
  // Why the verdict is uncertain (band, unlike the training data, no face), and notes such as
  // a picture much larger than the detector's input; older servers send no reasons.
  const reasons = result.reasons || [];
  const outsideBand = reasons.filter((r) => !r.startsWith("P(fake) inside the uncertain band"));
  const inBand = p >= low && p < high;
  if (verdictName === "uncertain" && outsideBand.length && !inBand) {
    $("verdict-sub").textContent =
      `P(fake) ${percent(p)}, but this detector cannot tell for this picture: ` +
      `${outsideBand.join("; ")}.`;
  } else if (verdictName === "uncertain") {
    $("verdict-sub").textContent =
      `P(fake) ${percent(p)} lies in the uncertain band from ${percent(low)} to ` +
      `${percent(high)}: this detector cannot tell for this picture.` +
      (outsideBand.length ? ` Also: ${outsideBand.join("; ")}.` : "");
  } else {
    const margin = Math.abs(p - result.threshold);
    const confidence = margin > 0.35 ? "clearly" : margin > 0.15 ? "fairly clearly" : "narrowly";
    $("verdict-sub").textContent =
      `P(fake) ${percent(p)} is ${confidence} ` +
      `${verdictName === "fake" ? "above" : "below"} the threshold of ${percent(result.threshold)}.` +
      (outsideBand.length ? ` Note: ${outsideBand.join("; ")}.` : "");
  }
  const bar = $("probability-bar");
  bar.setAttribute("aria-valuenow", (100 * p).toFixed(2));
  bar.setAttribute("aria-valuetext", `${percent(p)} fake, verdict ${verdictName}`);
  $("bar-fill").style.width = `${100 * p}%`;
  $("bar-threshold").style.left = `${100 * result.threshold}%`;
  const band = $("bar-band");
  band.hidden = !(high > low);
  band.style.left = `${100 * low}%`;
  band.style.width = `${100 * (high - low)}%`;
  $("fact-probability").textContent = percent(p);
  $("fact-threshold").textContent = percent(result.threshold);
  $("fact-band-row").hidden = !(high > low);
  $("fact-band").textContent = `${percent(low)} – ${percent(high)}`;
  $("fact-model").textContent = result.model;
  $("fact-latency").textContent = `${result.latency_ms.toFixed(0)} ms`;
  const box = result.face_box;
  $("fact-face-row").hidden = !box;
  if (box) $("fact-face").textContent = `${box.w}×${box.h} px at (${box.x}, ${box.y})`;
  verdict.hidden = false;
  showDecision(result);
  const named = DECISIONS[result.decision] || result.decision;
  const joint = result.decision ? `${named.toLowerCase()}; pixel detector: ` : "";
  setStatus(`Verdict for ${result.filename}: ${joint}${verdictName}.`);
  showProvenance(result.provenance);
  showGradcam();
}

// A server without the decision field leaves the box hidden; the raw verdicts still show.
function showDecision(result) {
  const box = $("decision");
  box.className = "decision";
  box.hidden = !result.decision;
  if (!result.decision) return;
  box.classList.add(`is-${result.decision}`);
  $("decision-label").textContent = DECISIONS[result.decision] || result.decision;
  $("decision-text").textContent = result.decision_text || "";
}

const PROVENANCE_LABELS = {
  "declared-generated": "Declared generated",
  "declared-edited": "Declared edited",
  "camera-metadata": "Camera metadata",
  "no-provenance": "No provenance",
};

// Everything shown here comes from an untrusted file: text only, never HTML.
function showProvenance(provenance) {
  const panel = $("provenance-panel");
  if (!provenance) {
    panel.hidden = true;
    return;
  }
  const verdict = provenance.verdict;
  const label = $("provenance-verdict");
  label.className = "provenance-verdict";
  if (verdict) label.classList.add(`is-${verdict}`);
  label.textContent = verdict ? PROVENANCE_LABELS[verdict] || verdict : "Not read";
  $("provenance-summary").textContent = provenance.error || provenance.summary;
  const facts = $("provenance-facts");
  facts.replaceChildren();
  const rows = [["Basis", provenance.basis || "—"]];
  const c2pa = provenance.c2pa;
  if (c2pa) {
    rows.push(["C2PA", `${c2pa.state}: ${c2pa.meaning}`]);
    if (c2pa.signer) rows.push(["Signer", c2pa.signer]);
    if (c2pa.claim_generator) rows.push(["Claim generator", c2pa.claim_generator]);
  }
  for (const [name, value] of rows) {
    const row = document.createElement("div");
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = name;
    dd.textContent = value;
    row.append(dt, dd);
    facts.append(row);
  }
  const list = $("provenance-evidence");
  list.replaceChildren();
  for (const item of provenance.evidence) {
    const li = document.createElement("li");
    li.className = `signal-${item.signal}`;
    const where = document.createElement("span");
    where.className = "evidence-where";
    where.textContent = `${item.source} · ${item.field}`;
    const value = document.createElement("span");
    value.textContent = item.value;
    li.append(where, value);
    list.append(li);
  }
  $("provenance-count").textContent = String(provenance.evidence.length);
  panel.hidden = false;
}

async function analyse() {
  if (!state.file) return;
  const ticket = ++state.request;
  const form = new FormData();
  form.append("file", state.file, state.file.name);
  const gradcam = $("gradcam-toggle").checked;
  setStatus("Analysing…");
  document.body.classList.add("busy");
  try {
    const response = await fetch(`/api/predict?gradcam=${gradcam}`, {
      method: "POST", body: form, headers: headers(),
    });
    if (ticket !== state.request) return;
    if (!response.ok) {
      showError(await errorText(response));
      return;
    }
    showResult(await response.json());
  } catch (err) {
    if (ticket === state.request) showError(`Could not reach the server (${err.message}).`);
  } finally {
    if (ticket === state.request) document.body.classList.remove("busy");
  }
}

function choose(file) {
  if (!file) return;
  state.file = file;
  state.result = null;
  $("decision").hidden = true;
  $("verdict").hidden = true;
  $("provenance-panel").hidden = true;
  clearError();
  showPreview(file);
  if (state.maxUploadBytes !== null && file.size > state.maxUploadBytes) {
    showError(`${file.name} is ${formatBytes(file.size)}; this server accepts up to ` +
      `${formatBytes(state.maxUploadBytes)}.`);
    return;
  }
  analyse();
}

function reset() {
  state.file = null;
  state.result = null;
  state.request++;
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  state.previewUrl = null;
  $("preview").hidden = true;
  $("drop-label").classList.remove("compact");
  $("clear-button").hidden = true;
  $("decision").hidden = true;
  $("verdict").hidden = true;
  $("provenance-panel").hidden = true;
  $("file-input").value = "";
  clearError();
  setStatus("Waiting for a picture.");
  $("file-input").focus();
}

function describeModel(model) {
  $("model-chip").textContent =
    `${model.name} · ${model.input.size}×${model.input.size} px · threshold ${percent(model.threshold)}`;
  const facts = $("model-facts");
  facts.replaceChildren();
  const rows = [
    ["Detector", model.description || model.name],
    ["Checkpoint", model.checkpoint || "—"],
    ["Runs on", model.backend === "onnx" ? "ONNX Runtime" : "PyTorch"],
    ["Input", `${model.input.size}×${model.input.size}, ${model.input.resize}` +
      (model.face_crop ? ", face crop" : "")],
    ["Threshold", percent(model.threshold)],
  ];
  if (model.band_high > model.band_low) {
    rows.push(["Uncertain band", `${percent(model.band_low)} – ${percent(model.band_high)}`]);
  }
  // How the band was fitted, or why there is none (older servers send no description).
  if (model.band_description) rows.push(["Band fitted", model.band_description]);
  rows.push(["Training-data check", model.distance_limit == null
    ? "none: any picture gets a verdict"
    : "pictures unlike the training data are called uncertain"]);
  if (model.temperature !== undefined && model.temperature !== 1) {
    rows.push(["Temperature", model.temperature.toPrecision(3)]);
  }
  for (const [name, value] of Object.entries(model.metrics || {})) {
    if (typeof value === "number") rows.push([name, Number.isInteger(value) ? value : value.toFixed(4)]);
  }
  for (const [name, value] of rows) {
    const row = document.createElement("div");
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = name;
    dd.textContent = String(value);
    row.append(dt, dd);
    facts.append(row);
  }
}

async function loadModel() {
  const response = await fetch("/api/models", { headers: headers() });
  if (response.ok) {
    const body = await response.json();
    if (body.models.length) describeModel(body.models[0]);
  } else if (response.status === 401) {
    $("model-chip").textContent = "enter the API key to use this server";
  }
}

async function init() {
  try {
    const response = await fetch("/api/health");
    const health = await response.json();
    state.maxUploadBytes = health.max_upload_bytes;
    $("size-limit").textContent = `, up to ${formatBytes(health.max_upload_bytes)}`;
    $("api-key-row").hidden = !health.api_key_required;
    $("model-chip").textContent = health.model;
    await loadModel();
  } catch (err) {
    $("model-chip").textContent = "server unreachable";
  }
}

function wire() {
  const zone = $("drop-zone");
  $("file-input").addEventListener("change", (event) => choose(event.target.files[0]));
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
    });
  }
  zone.addEventListener("drop", (event) => choose(event.dataTransfer.files[0]));
  document.addEventListener("paste", (event) => {
    const item = [...event.clipboardData.files][0];
    if (item) choose(item);
  });
  $("gradcam-toggle").addEventListener("change", () => {
    // The heat map is only computed when asked for, so ask again if it is missing.
    if ($("gradcam-toggle").checked && state.result && !state.result.gradcam_png) analyse();
    else showGradcam();
  });
  // A file the browser cannot show (or no picture at all) leaves no broken-image icon.
  $("preview-image").addEventListener("error", () => {
    state.previewBroken = true;
    $("preview-image").hidden = true;
  });
  $("clear-button").addEventListener("click", reset);
  $("api-key-input").addEventListener("change", () => {
    loadModel();
    if (state.file) analyse();
  });
}

wire();
init();
