/* hardtech dashboard — plain JS, no build step. Talks to the REST API of `hardtech serve`.
 *
 * One source of truth for what the page shows: the URL (preset or base scenario, lever changes, seed,
 * replications, the run or job shown, the tab) and the server's job list. A reload rebuilds the page
 * from them: it reattaches to a job still running (replaying its events) or reopens the stored run.
 *
 * Controls: GET /api/controls (schema + base scenario). Run: POST /api/jobs/run, then its Server-Sent
 * Events stream plots, the world view and dragons quarter by quarter (pause / step / speed via
 * POST /api/jobs/{id}/control). Compare: POST /api/jobs/compare (paired B − A). Experiments:
 * POST /api/jobs/sweep. Past runs: GET /api/runs, /api/runs/{id}, /world, /firms/{firm}; labels, deletion.
 */
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token");
const REGION_COLOURS = {
  hangzhou: "#e4572e", shenzhen: "#17a2b8", beijing: "#8e44ad", shanghai: "#2e9e44",
  us_hub: "#1f5fbf", rest_of_world: "#8a8a8a",
};
const PALETTE = ["#e4572e", "#17a2b8", "#8e44ad", "#2e9e44", "#1f5fbf", "#8a8a8a", "#d4a017", "#c2185b", "#5d4037", "#00897b"];
const FIELD_PALETTE = ["#6a3d9a", "#ff7f00", "#33a02c", "#e31a1c", "#1f78b4", "#b15928", "#a6cee3", "#fb9a99"];
const HEALTH_EVERY_MS = 2000;
const MIN_BOOTSTRAP = 5;

const state = {
  spec: null,            // GET /api/controls response
  values: {},            // key -> current value
  touched: new Set(),    // keys moved by the user (or set from the URL / a job)
  extraOverrides: {},    // overrides of a job or URL that are not controls (kept, sent back as they were)
  presets: [],
  job: null, source: null, busy: false, paused: false,
  compareJob: null, compareSource: null, compareResult: null,
  sweepJob: null, sweepSource: null,
  savedB: [],
  charts: {}, compareCharts: {}, sweepChart: null, bioCharts: [],
  regions: [], fields: [], fieldLabels: {},
  dragonCount: 0, pendingRedraw: false,
  view: { kind: null, runId: null },           // what the plots show: a live job or a stored run
  world: { layout: null, frames: [], index: 0, follow: true, playing: null, runId: null, source: null },
  glossary: new Map(),
  server: "up",
  tab: "plots",
  loadingUrl: false,
};

// -- helpers -------------------------------------------------------------------------------------

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, v);
  return node;
}

function withToken(url) {
  if (!TOKEN) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (TOKEN) headers.Authorization = "Bearer " + TOKEN;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET", headers, signal: options.signal,
    body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
  });
  let data = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("application/json")) data = await response.json();
  if (!response.ok) {
    const err = new Error(errorText(data) || `${response.status} ${response.statusText}`);
    err.status = response.status;
    err.detail = data && data.detail;
    throw err;
  }
  return data;
}

function errorText(data) {
  if (!data || data.detail === undefined) return "";
  if (typeof data.detail === "string") return data.detail;
  if (Array.isArray(data.detail)) return data.detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  return JSON.stringify(data.detail);
}

function fmt(x, digits = 3) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (typeof x !== "number") return String(x);
  const a = Math.abs(x);
  if (a >= 1e6) return (x / 1e6).toFixed(2) + " M";
  if (a >= 1e3) return Math.round(x).toLocaleString("en-US");
  if (a >= 100) return x.toFixed(0);
  if (a >= 1 || a === 0) return x.toFixed(Math.min(digits, 2)).replace(/\.?0+$/, "") || "0";
  return x.toPrecision(digits).replace(/\.?0+$/, "");
}

function fmtSigned(x) { return x === null || x === undefined ? "–" : (x > 0 ? "+" : "") + fmt(x); }

/** A mean over replications with its interval: bootstrap [lo, hi]; range (lo–hi over n); or the value. */
function fmtInterval(v) {
  if (!v) return "–";
  if (v.method === "bootstrap") return `${fmt(v.mean)} [${fmt(v.lo)}, ${fmt(v.hi)}]`;
  if (v.method === "range") return `${fmt(v.mean)} (${fmt(v.lo)}–${fmt(v.hi)})`;
  return fmt(v.mean);
}

function colourOf(name, i) { return REGION_COLOURS[name] || PALETTE[(i < 0 ? 0 : i) % PALETTE.length]; }
function fieldColour(i) { return FIELD_PALETTE[i % FIELD_PALETTE.length]; }

function showError(msg) {
  const box = $("#error");
  box.textContent = msg;
  box.hidden = !msg;
}

function setStatus(text, fraction) {
  $("#status").textContent = text;
  if (fraction !== undefined) {
    const pct = Math.max(0, Math.min(100, Math.round(fraction * 100)));
    $("#progress-bar").style.width = pct + "%";
    $("#progress").setAttribute("aria-valuenow", String(pct));
  }
}

function term(name, text) {
  return el("span", { class: "term", dataset: { term: name }, tabindex: "0" }, text || name);
}

// -- tooltips: one-line explanations on hover and on focus ------------------------------------------

function tipText(node) {
  if (node.dataset.term) {
    const t = state.glossary.get(node.dataset.term.toLowerCase());
    return t ? `${t.term}${t.unit ? ` (${t.unit})` : ""}: ${t.definition}` : "";
  }
  return node.dataset.tip || "";
}

function showTip(node) {
  const text = tipText(node);
  const tip = $("#tip");
  if (!text) { tip.hidden = true; return; }
  tip.textContent = text;
  tip.hidden = false;
  const r = node.getBoundingClientRect();
  const w = Math.min(330, window.innerWidth - 16);
  let left = r.right + 8;
  if (left + w > window.innerWidth) left = Math.max(8, r.left - w - 8);
  if (left < 8) left = 8;
  tip.style.left = left + "px";
  const top = Math.min(window.innerHeight - tip.offsetHeight - 8, Math.max(8, r.top));
  tip.style.top = top + "px";
}

function wireTips() {
  const find = (e) => e.target.closest && e.target.closest("[data-term], [data-tip]");
  document.addEventListener("mouseover", (e) => { const n = find(e); if (n) showTip(n); });
  document.addEventListener("mouseout", (e) => { const n = find(e); if (n && !n.contains(e.relatedTarget)) $("#tip").hidden = true; });
  document.addEventListener("focusin", (e) => { const n = find(e); if (n) showTip(n); else $("#tip").hidden = true; });
  document.addEventListener("focusout", () => { $("#tip").hidden = true; });
}

// -- the URL: one source of truth ---------------------------------------------------------------------

function readUrl() {
  const q = new URLSearchParams(location.search);
  const overrides = {};
  for (const [k, v] of q.entries()) {
    if (!k.startsWith("o.")) continue;
    try { overrides[k.slice(2)] = JSON.parse(v); } catch (_err) { overrides[k.slice(2)] = v; }
  }
  const num = (name) => (q.has(name) && q.get(name) !== "" && !Number.isNaN(Number(q.get(name))) ? Number(q.get(name)) : null);
  return {
    preset: q.get("preset"), base: q.get("base"), seed: num("seed"), reps: num("reps"), tab: q.get("tab"),
    run: q.get("run"), job: q.get("job"), focal: q.get("focal"), speed: q.get("speed"), overrides,
  };
}

function writeUrl() {
  if (state.loadingUrl || !state.spec) return;
  const q = new URLSearchParams();
  if (TOKEN) q.set("token", TOKEN);
  q.set("preset", state.spec.preset);
  if (state.spec.base) q.set("base", state.spec.base);
  const spec = currentSpec();
  if (spec.seed !== undefined) q.set("seed", String(spec.seed));
  for (const [k, v] of Object.entries(spec.overrides)) q.set("o." + k, JSON.stringify(v));
  const reps = Number($("#replications").value) || 1;
  if (reps !== 1) q.set("reps", String(reps));
  if (state.tab !== "plots") q.set("tab", state.tab);
  if (state.job) q.set("job", state.job);
  else if (state.view.kind === "stored" && state.view.runId) q.set("run", state.view.runId);
  const focal = $("#focal").value;
  if (focal && state.spec.regions && focal !== state.spec.regions[0]) q.set("focal", focal);
  if ($("#speed").value !== "15") q.set("speed", $("#speed").value);
  const url = location.pathname + "?" + q.toString();
  if (url !== location.pathname + location.search) history.replaceState(null, "", url);
}

// -- server health -------------------------------------------------------------------------------------

async function checkHealth() {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 1500);
  let ok = false;
  try {
    const h = await api("/api/health", { signal: ctl.signal });
    ok = h && h.status === "ok";
  } catch (_err) {
    ok = false;
  } finally {
    clearTimeout(timer);
  }
  const was = state.server;
  state.server = ok ? "up" : "down";
  document.body.dataset.server = state.server;
  $("#offline").hidden = ok;
  if (!ok) {
    $("#run").disabled = true;
    $("#compare").disabled = true;
    $("#sweep-run").disabled = true;
    if (state.job || state.compareJob || state.sweepJob) setStatus("Server unreachable — the job's state is unknown.", undefined);
  } else if (was === "down") {
    await resyncJobs();
  }
}

/** After the server came back (or a stream closed): ask the job list what happened to our jobs. */
async function resyncJobs() {
  let jobs = [];
  try { jobs = await api("/api/jobs"); } catch (_err) { return; }
  const known = new Map(jobs.map((j) => [j.id, j]));
  if (state.job && !known.has(state.job)) {
    closeSource("source");
    state.job = null;
    setStatus("The job this page followed is gone (the server restarted); stored runs are under Past runs.", undefined);
    writeUrl();
  } else if (state.job && !state.source) {
    attachRun(known.get(state.job));
  }
  refreshButtons();
}

function refreshButtons() {
  const up = state.server === "up";
  const running = Boolean(state.job);
  $("#run").disabled = !up || !state.spec || running || state.busy;
  $("#stop").disabled = !running;
  $("#pause").disabled = !running;
  $("#step").disabled = !running;
  $("#pause").textContent = state.paused ? "Resume" : "Pause";
  $("#compare").disabled = !up || !state.spec || Boolean(state.compareJob);
  $("#compare-stop").disabled = !state.compareJob;
  $("#sweep-run").disabled = !up || !state.spec || Boolean(state.sweepJob);
  $("#sweep-stop").disabled = !state.sweepJob;
}

// -- controls --------------------------------------------------------------------------------------

async function loadPresets() {
  const presets = await api("/api/presets");
  state.presets = presets;
  const select = $("#preset");
  select.replaceChildren(...presets.map((p) => el("option", { value: p.name, text: p.name })));
  fillCompareChoices();
}

/** Load the controls of a preset or a base scenario (`run:<id>`, `file:<id>`); values = that scenario's. */
async function loadControls({ preset, base }) {
  const q = new URLSearchParams({ preset: preset || (state.spec && state.spec.preset) || "hangzhou" });
  if (base) q.set("base", base);
  const spec = await api("/api/controls?" + q.toString());
  state.spec = spec;
  state.extraOverrides = {};
  $("#preset").value = spec.preset;
  $("#preset-desc").textContent = spec.description;
  $("#base-name").textContent = spec.base ? spec.base_name : `preset ${spec.preset}`;
  $("#back-to-preset").hidden = !spec.base;
  $("#base-changes").replaceChildren(...(spec.base_changes || []).slice(0, 40).map((c) => el("li", { text: c.text })));
  document.body.dataset.base = spec.base || "";
  $("#replications").max = String(spec.limits.max_replications);
  $("#compare-reps").max = String(spec.limits.max_replications);
  buildControls(spec);
  resetControls(false);
  fillFocal(spec.regions);
  buildSweepForm();
  refreshButtons();
}

function controlTip(c) {
  const parts = [c.hint || c.description];
  if (c.unit) parts.push(`Unit: ${c.unit}.`);
  if (c.plausible_min !== null && c.plausible_max !== null && c.key !== "seed") {
    parts.push(`Slider: ${fmt(c.plausible_min)}–${fmt(c.plausible_max)} (plausible range: ${c.plausible_source || "the schema's range"}).`);
  }
  if (c.minimum !== null || c.maximum !== null) {
    parts.push(`Allowed: ${c.exclusive_minimum ? ">" : "≥"} ${fmt(c.minimum)}, ${c.exclusive_maximum ? "<" : "≤"} ${fmt(c.maximum)}.`);
  }
  if (c.preset_value !== null && c.preset_value !== undefined && state.spec && state.spec.base) parts.push(`Preset: ${c.preset_value}.`);
  parts.push(`Key: ${c.key}`);
  return parts.join(" ");
}

function buildControls(spec) {
  const host = $("#control-groups");
  host.replaceChildren();
  const groups = new Map();
  for (const c of spec.controls) {
    if (!groups.has(c.group)) groups.set(c.group, []);
    groups.get(c.group).push(c);
  }
  let regionIndex = 0;
  for (const [group, items] of groups) {
    const isRegion = group.startsWith("Region: ");
    const open = isRegion ? regionIndex++ === 0 : group !== "Key parameters";  // the rest one click away
    const summary = el("summary", {}, isRegion ? el("span", { class: "swatch", style: `background:${colourOf(group.slice(8), regionIndex - 1)}` }) : null,
      isRegion ? "Region " : "", isRegion ? el("b", { text: group.slice(8) }) : group);
    const details = el("details", { class: "panel group", open, dataset: { group } }, summary);
    for (const c of items) details.append(controlRow(c));
    host.append(details);
  }
}

function controlRow(c) {
  const id = "ctl-" + c.key.replace(/[^A-Za-z0-9]+/g, "-");
  const row = el("div", { class: "control", dataset: { key: c.key, tip: controlTip(c) } });
  const label = el("label", { for: id, class: "control-label" }, c.label, c.unit ? el("span", { class: "unit", text: " " + c.unit }) : null);
  if (c.type === "boolean") {
    const box = el("input", { type: "checkbox", id, class: "switch", dataset: { key: c.key }, "aria-label": c.key });
    box.addEventListener("change", () => setValue(c, box.checked, true));
    row.classList.add("boolean");
    row.append(box, label, el("span", { class: "field-error" }));
    return row;
  }
  row.append(label);
  const line = el("div", { class: "control-line" });
  const number = el("input", {
    type: "number", id, class: "number", dataset: { key: c.key }, "aria-label": c.key,
    step: c.type === "integer" ? "1" : "any",
    min: c.minimum !== null && !c.exclusive_minimum ? c.minimum : null,
    max: c.maximum !== null && !c.exclusive_maximum ? c.maximum : null,
  });
  if (c.slider_max !== null && c.slider_max !== undefined) {
    const lo = c.plausible_min !== null ? Number(c.plausible_min) : (c.minimum !== null ? Number(c.minimum) : 0);
    const hi = Number(c.slider_max);
    const step = c.type === "integer" ? 1 : Math.pow(10, Math.floor(Math.log10((hi - lo) / 100)));  // 100–1000 notches
    const slider = el("input", { type: "range", class: "slider", min: lo, max: hi, step, dataset: { key: c.key }, "aria-label": c.key + " slider" });
    slider.addEventListener("input", () => setValue(c, roundTo(Number(slider.value), c), true));
    line.append(slider);
  }
  const onNumber = (final) => {
    if (number.value === "" || Number.isNaN(Number(number.value))) {
      if (final) setValue(c, state.values[c.key], false);
      return;
    }
    setValue(c, Number(number.value), true);
  };
  number.addEventListener("input", () => onNumber(false));
  number.addEventListener("change", () => onNumber(true));
  line.append(number);
  row.append(line, el("div", { class: "range-note" }), el("div", { class: "field-error" }));
  if (c.schedule) row.append(el("div", { class: "schedule muted small" }));
  return row;
}

function roundTo(x, c) {
  if (c.type === "integer") return Math.round(x);
  return Number(x.toPrecision(4));
}

function controlOf(key) { return state.spec ? state.spec.controls.find((c) => c.key === key) : null; }

function setValue(c, value, byUser) {
  state.values[c.key] = value;
  if (byUser) state.touched.add(c.key);
  const row = document.querySelector(`.control[data-key="${CSS.escape(c.key)}"]`);
  if (!row) return;
  for (const input of row.querySelectorAll("input")) {
    if (input.type === "checkbox") input.checked = Boolean(value);
    else if (document.activeElement !== input || input.type === "range") input.value = value === null || value === undefined ? "" : String(value);
  }
  const changed = isChanged(c);
  row.classList.toggle("changed", changed);
  row.classList.remove("invalid");
  const err = row.querySelector(".field-error");
  if (err) err.textContent = "";
  const note = row.querySelector(".range-note");
  if (note) {
    const v = Number(value);
    const out = typeof value === "number" && c.plausible_min !== null && c.plausible_max !== null && c.key !== "seed"
      && (v < c.plausible_min || v > c.plausible_max);
    note.textContent = out ? `outside the plausible range ${fmt(c.plausible_min)}–${fmt(c.plausible_max)}` : "";
  }
  const sched = row.querySelector(".schedule");
  if (sched) {
    sched.textContent = changed
      ? "constant (replaces the base's schedule)"
      : "schedule: " + c.schedule.map(([y, v]) => `${y}: ${fmt(v)}`).join(", ");
  }
  updateChangedCount();
  writeUrl();
}

function isChanged(c) {
  if (!state.touched.has(c.key)) return false;
  if (c.schedule) return true;
  return state.values[c.key] !== c.value;
}

function updateChangedCount() {
  const seed = controlOf("seed");
  const n = currentOverrideKeys().length + Object.keys(state.extraOverrides).length + (seed && isChanged(seed) ? 1 : 0);
  const what = state.spec && state.spec.base ? "the base" : "the preset";
  $("#changed-count").textContent = n ? `${n} change${n > 1 ? "s" : ""} from ${what} (highlighted).` : `No changes from ${what}.`;
}

function currentOverrideKeys() {
  if (!state.spec) return [];
  return state.spec.controls.filter((c) => c.key !== "seed" && isChanged(c)).map((c) => c.key);
}

function resetControls(clearError = true) {
  state.touched.clear();
  state.extraOverrides = {};
  for (const c of state.spec.controls) setValue(c, c.value, false);
  document.querySelectorAll(".control.invalid").forEach((n) => n.classList.remove("invalid"));
  if (clearError) showError("");
}

/** Set controls from overrides (a URL or a job's request): controls where they exist, the rest kept aside. */
function applyOverrides(overrides, seed) {
  for (const [key, value] of Object.entries(overrides || {})) {
    const c = controlOf(key);
    if (c && c.type !== "boolean" && Array.isArray(value)) { state.extraOverrides[key] = value; continue; }
    if (c) setValue(c, value, true);
    else state.extraOverrides[key] = value;
  }
  const seedControl = controlOf("seed");
  if (seedControl && seed !== null && seed !== undefined) setValue(seedControl, seed, true);
  updateChangedCount();
}

/** The scenario the controls describe: {preset, base?, overrides, seed?}. */
function currentSpec(label) {
  const overrides = Object.assign({}, state.extraOverrides);
  for (const key of currentOverrideKeys()) overrides[key] = state.values[key];
  const spec = { preset: state.spec.preset, overrides };
  if (state.spec.base) spec.base = state.spec.base;
  const seedControl = controlOf("seed");
  if (seedControl && state.values.seed !== seedControl.value) spec.seed = state.values.seed;
  if (label) spec.label = label;
  return spec;
}

function markInvalid(detail) {
  if (!Array.isArray(detail)) return;
  for (const d of detail) {
    const key = String((d.loc || [])[(d.loc || []).length - 1]);
    const row = document.querySelector(`.control[data-key="${CSS.escape(key)}"]`)
      || [...document.querySelectorAll(".control")].find((n) => n.dataset.key.endsWith("." + key));
    if (row) {
      row.classList.add("invalid");
      const err = row.querySelector(".field-error");
      if (err) err.textContent = d.msg;
      const details = row.closest("details");
      if (details) details.open = true;
      row.scrollIntoView({ block: "nearest" });
    }
  }
}

// -- scenario files ------------------------------------------------------------------------------------

async function loadScenarioFile(file) {
  const box = $("#file-error");
  box.hidden = true;
  if (!file) return;
  const text = await file.text();
  let info;
  try {
    info = await api("/api/scenarios", { method: "POST", body: { filename: file.name, toml: text } });
  } catch (err) {
    const item = Array.isArray(err.detail) ? err.detail[0] : null;
    const where = item && item.loc ? item.loc.slice(2).join(".") : "";
    box.replaceChildren(el("b", { text: `${file.name}${where ? " — " + where : ""}: ` }), item ? item.msg : err.message);
    box.dataset.field = where;
    box.hidden = false;
    if (item) markInvalid([{ loc: [where], msg: item.msg }]);
    return;
  }
  await loadControls({ preset: state.spec.preset, base: info.base });
  if (info.warnings && info.warnings.length) {
    box.replaceChildren(el("b", { text: `${file.name}: ` }), info.warnings.join("; "));
    box.hidden = false;
  }
  setStatus(`Loaded scenario file ${file.name} (${info.name}); press Run.`, 0);
  writeUrl();
}

// -- charts ----------------------------------------------------------------------------------------

const CHARTS = [
  { id: "dragons", of: "regions", key: "dragons", y: "dragons (count)" },
  { id: "talent", of: "regions", key: "talent", y: "persons" },
  { id: "capital", of: "regions", key: "capital", y: "M USD" },
  { id: "gap", of: "regions", key: "gap", y: "log capability" },
  { id: "maturity", of: "fields", key: "maturity", y: "maturity (0–1)" },
  { id: "demand", of: "fields", key: "demand", y: "M USD / quarter" },
];

function lineChart(canvas, names, labels, colours, yTitle) {
  return new Chart(canvas, {
    type: "line",
    data: {
      labels: [],
      datasets: names.map((n, i) => ({
        label: labels[i], data: [], borderColor: colours[i], backgroundColor: colours[i],
        borderWidth: 1.6, pointRadius: 0, tension: 0.15, spanGaps: true,
      })),
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false, normalized: true,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 10, boxHeight: 2, font: { size: 10 }, padding: 5, filter: (item, data) => !data.datasets[item.datasetIndex].band } },
        tooltip: {
          filter: (item) => !item.dataset.band,
          callbacks: {
            label: (ctx) => {
              const ds = ctx.dataset;
              if (ds.lo && ds.hi) return `${ds.label}: ${fmt(ctx.parsed.y)} (band ${fmt(ds.lo[ctx.dataIndex])}–${fmt(ds.hi[ctx.dataIndex])})`;
              return `${ds.label}: ${fmt(ctx.parsed.y)}`;
            },
          },
        },
      },
      scales: {
        x: { ticks: { maxTicksLimit: 6, autoSkipPadding: 14, font: { size: 10 }, maxRotation: 0 }, grid: { display: false } },
        y: { ticks: { font: { size: 10 }, callback: (v) => fmt(v) }, title: { display: true, text: yTitle, font: { size: 10 } } },
      },
    },
  });
}

function resetCharts(regions, fields, fieldLabels) {
  state.regions = regions;
  state.fields = fields;
  state.fieldLabels = fieldLabels || {};
  for (const spec of CHARTS) {
    const names = spec.of === "regions" ? regions : fields;
    const labels = spec.of === "regions" ? regions : fields.map((f) => (fieldLabels && fieldLabels[f]) || f);
    const colours = spec.of === "regions" ? regions.map(colourOf) : fields.map((_, i) => fieldColour(i));
    const canvas = document.getElementById("chart-" + spec.id);
    if (state.charts[spec.id]) state.charts[spec.id].destroy();
    state.charts[spec.id] = lineChart(canvas, names, labels, colours, spec.y);
    canvas.dataset.points = "0";
    canvas.dataset.bands = "0";
  }
  $("#plots-note").textContent = "";
  document.body.dataset.steps = "0";
}

function addStep(payload) {
  for (const spec of CHARTS) {
    const chart = state.charts[spec.id];
    if (!chart) continue;
    chart.data.labels.push(payload.quarter);
    const values = payload[spec.key] || [];
    chart.data.datasets.forEach((ds, i) => ds.data.push(values[i] === undefined ? null : values[i]));
  }
  scheduleRedraw();
}

/** Redraw every plot as the mean over replications with its 95% band (2.5th–97.5th percentile). */
function drawBands(bands, note) {
  for (const spec of CHARTS) {
    const chart = state.charts[spec.id];
    const data = bands[spec.key];
    if (!chart || !data) continue;
    const names = spec.of === "regions" ? state.regions : state.fields;
    const colours = spec.of === "regions" ? names.map(colourOf) : names.map((_, i) => fieldColour(i));
    const labels = spec.of === "regions" ? names : names.map((f) => state.fieldLabels[f] || f);
    const datasets = [];
    names.forEach((_, i) => {
      const col = (arr) => arr.map((row) => (row[i] === undefined ? null : row[i]));
      const lo = col(data.lo), hi = col(data.hi);
      datasets.push({ label: labels[i] + " (2.5%)", data: lo, band: true, borderWidth: 0, pointRadius: 0, fill: false, borderColor: "transparent", spanGaps: true });
      datasets.push({ label: labels[i] + " (97.5%)", data: hi, band: true, borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: colours[i] + "2e", borderColor: "transparent", spanGaps: true });
      datasets.push({ label: labels[i], data: col(data.mean), lo, hi, borderColor: colours[i], backgroundColor: colours[i], borderWidth: 1.7, pointRadius: 0, tension: 0.15, spanGaps: true });
    });
    chart.data.labels = bands.quarters.slice();
    chart.data.datasets = datasets;
    chart.update("none");
    chart.canvas.dataset.points = String(chart.data.labels.length);
    chart.canvas.dataset.bands = String(bands.replications);
  }
  $("#plots-note").textContent = note || `Mean and 95% band (2.5th–97.5th percentile) over ${bands.replications} replications.`;
}

function scheduleRedraw() {
  if (state.pendingRedraw) return;
  state.pendingRedraw = true;
  requestAnimationFrame(() => {
    state.pendingRedraw = false;
    for (const spec of CHARTS) {
      const chart = state.charts[spec.id];
      if (!chart) continue;
      chart.update("none");
      chart.canvas.dataset.points = String(chart.data.labels.length);
    }
    const first = state.charts[CHARTS[0].id];
    document.body.dataset.steps = String(first ? first.data.labels.length : 0);
  });
}

// -- dragons and summary -----------------------------------------------------------------------------

function clearDragons(note) {
  $("#dragons tbody").replaceChildren();
  state.dragonCount = 0;
  $("#dragon-count").textContent = "0";
  $("#dragons-note").textContent = note || "";
}

function addDragons(rows) {
  const body = $("#dragons tbody");
  for (const d of rows) {
    const open = () => openBio(d.firm_id);
    const tr = el("tr", { class: "clickable", tabindex: "0", dataset: { firm: d.firm_id }, title: "Open its biography",
      onclick: open, onkeydown: (e) => { if (e.key === "Enter") open(); } },
      el("td", { class: "num", text: String(d.firm_id) }),
      el("td", {}, el("span", { class: "swatch", style: `background:${colourOf(d.region, state.regions.indexOf(d.region))}` }), d.region),
      el("td", { text: d.field }),
      el("td", { text: d.founded_quarter }),
      el("td", { text: d.dragon_quarter }),
      el("td", { class: "num", text: fmt(d.valuation_musd) }));
    body.prepend(tr);
  }
  state.dragonCount += rows.length;
  $("#dragon-count").textContent = String(state.dragonCount);
}

function downloadLinks(runId) {
  const base = "/api/runs/" + encodeURIComponent(runId);
  return el("span", { class: "downloads", dataset: { run: runId } },
    el("a", { href: withToken(base + "/data?table=step_metrics&format=csv"), download: `${runId}-step_metrics.csv`, class: "dl-csv", title: "step_metrics as CSV" }, "CSV"),
    el("a", { href: withToken(base + "/data?table=step_metrics&format=parquet"), download: `${runId}-step_metrics.parquet`, class: "dl-parquet", title: "step_metrics as Parquet" }, "Parquet"),
    el("a", { href: withToken(base + "/scenario.toml"), download: `${runId}.toml`, class: "dl-toml", title: "The resolved scenario as TOML" }, "TOML"),
    el("a", { href: withToken(base + "/report.html"), target: "_blank", rel: "noopener", class: "dl-report", title: "The run's HTML report" }, "Report"));
}

function summaryHead(cols) {
  const terms = { Dragons: "dragon", Births: "births", "Talent at end": "talent", "VC pool M$": "VC pool", "Gap at end": "gap" };
  return el("tr", {}, ...cols.map((t, i) => el("th", { class: i ? "num" : "" }, terms[t.split(" (")[0]] ? term(terms[t.split(" (")[0]], t) : t)));
}

function renderRunSummary(result) {
  const reps = result.replications;
  const iv = result.intervals || {};
  $("#summary thead").replaceChildren(summaryHead(["Region", "Dragons", "Births", "Talent at end", "VC pool M$", "Gap at end"]));
  $("#summary tbody").replaceChildren(...result.regions.map((r) => el("tr", {},
    el("td", {}, el("span", { class: "swatch", style: `background:${colourOf(r.region, state.regions.indexOf(r.region))}` }), r.region),
    el("td", { class: "num", text: reps > 1 ? fmtInterval(iv[`dragons_${r.region}`]) : fmt(r.dragons) }),
    el("td", { class: "num", text: reps > 1 ? fmtInterval(iv[`births_${r.region}`]) : fmt(r.births) }),
    el("td", { class: "num", text: fmt(r.talent_end) }),
    el("td", { class: "num", text: fmt(r.investor_capital_end) }),
    el("td", { class: "num", text: fmt(r.gap_to_frontier_end) }))));
  $("#summary-note").textContent = reps > 1 ? result.interval_note : "replication 0";
}

function renderOutcomeSummary(outcomes, regions, note) {
  $("#summary thead").replaceChildren(summaryHead(["Region", "Dragons", "Births", "Talent at end", "VC pool M$", "Gap at end"]));
  $("#summary tbody").replaceChildren(...regions.map((r, i) => el("tr", {},
    el("td", {}, el("span", { class: "swatch", style: `background:${colourOf(r, i)}` }), r),
    ...["dragons", "births", "talent_end", "investor_capital_end", "gap_end"].map((m) => el("td", { class: "num", text: fmt(outcomes[`${m}_${r}`]) })))));
  $("#summary-note").textContent = note || "stored run";
}

// -- running -------------------------------------------------------------------------------------------

function closeSource(which) {
  if (state[which]) { state[which].close(); state[which] = null; }
}

async function startRun() {
  if (state.busy || state.job) return;
  state.busy = true;
  $("#run").disabled = true;  // from the first click until the job ends
  showError("");
  document.querySelectorAll(".control.invalid").forEach((n) => n.classList.remove("invalid"));
  const body = currentSpec();
  body.replications = Number($("#replications").value) || 1;
  body.pace_ms = Number($("#speed").value);
  let job;
  try {
    job = await api("/api/jobs/run", { method: "POST", body });
  } catch (err) {
    state.busy = false;
    refreshButtons();
    showError(err.message);
    markInvalid(err.detail);
    return;
  }
  state.busy = false;
  attachRun(job);
}

/** Follow a run job's events from the start (a fresh job, or one found running after a reload). */
function attachRun(job) {
  closeSource("source");
  state.job = job.id;
  state.paused = Boolean(job.paused);
  state.view = { kind: "live", runId: null };
  state.world = Object.assign(state.world, { frames: [], index: 0, follow: true, runId: null, layout: state.world.layout });
  document.body.dataset.job = job.id;
  document.body.dataset.jobStatus = job.status;
  refreshButtons();
  $("#run-links").replaceChildren();
  clearDragons("replication 0, newest first");
  resetCharts(state.spec.regions, state.spec.fields, state.spec.field_labels);
  setStatus(job.status === "queued" ? `Queued (#${job.queue_position})…` : "Starting…", 0);
  writeUrl();
  const source = new EventSource(withToken(job.events_url));
  state.source = source;
  let streamingRep = false;
  source.addEventListener("started", (e) => { const d = JSON.parse(e.data); setStatus(`Running (${d.replications} replication${d.replications > 1 ? "s" : ""})…`, 0); document.body.dataset.jobStatus = "running"; });
  source.addEventListener("replication", (e) => {
    const d = JSON.parse(e.data);
    streamingRep = d.streaming;
    if (d.streaming) {
      resetCharts(d.regions, d.fields, d.field_labels);
      clearDragons("replication 0, newest first");
      state.world.layout = d.layout || state.world.layout;
      state.world.fields = d.fields;
      state.world.fieldLabels = d.field_labels;
      state.world.frames = [];
      state.world.source = "live";
      state.world.runId = null;
    }
  });
  source.addEventListener("step", (e) => {
    const d = JSON.parse(e.data);
    addStep(d);
    if (d.new_dragons) addDragons(d.new_dragons);
    if (d.world) addWorldFrame(d.world);
    setStatus(`${state.paused ? "Paused" : "Running"} — ${d.quarter} (replication ${d.replication + 1})`, d.done / d.total);
  });
  source.addEventListener("progress", (e) => {
    const d = JSON.parse(e.data);
    if (!streamingRep || d.replication > 0) setStatus(`${state.paused ? "Paused" : "Running"} — replication ${d.replication + 1}…`, d.done / d.total);
  });
  source.addEventListener("paused", () => { state.paused = true; refreshButtons(); document.body.dataset.paused = "1"; $("#status").textContent = $("#status").textContent.replace(/^Running/, "Paused"); });
  source.addEventListener("resumed", () => { state.paused = false; refreshButtons(); document.body.dataset.paused = "0"; });
  source.addEventListener("result", (e) => {
    const result = JSON.parse(e.data);
    renderRunSummary(result);
    if (result.bands) drawBands(result.bands);
  });
  source.addEventListener("stored", (e) => {
    const d = JSON.parse(e.data);
    state.view.runId = d.run_ids[0];
    state.world.runId = d.run_ids[0];
    $("#run-links").replaceChildren(el("span", { class: "muted", text: "Run " }), el("code", { text: d.run_ids[0] }), " ", downloadLinks(d.run_ids[0]));
  });
  source.addEventListener("server", () => { setStatus("The server is shutting down.", undefined); });
  source.addEventListener("end", (e) => {
    const d = JSON.parse(e.data);
    source.close();
    if (state.source === source) state.source = null;
    state.job = null;
    state.paused = false;
    document.body.dataset.jobStatus = d.status;
    document.body.dataset.paused = "0";
    if (d.run_ids && d.run_ids.length) state.view = { kind: "stored", runId: d.run_ids[0] };
    refreshButtons();
    const n = d.run_ids ? d.run_ids.length : 0;
    if (d.status === "done") setStatus(`Done — ${state.dragonCount} dragon${state.dragonCount === 1 ? "" : "s"} in replication 0; stored as ${n} run${n === 1 ? "" : "s"}.`, 1);
    else if (d.status === "cancelled") setStatus(`Stopped — ${d.note || "nothing was stored"}.`, undefined);
    else { setStatus("Failed.", undefined); showError(d.error || "the run failed"); }
    writeUrl();
    loadRuns();
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED && state.source === source) {
      state.source = null;
      checkHealth().then(resyncJobs);
    }
  };
}

async function controlJob(action) {
  if (!state.job) return;
  try {
    const body = { action };
    if (action === "pace") body.pace_ms = Number($("#speed").value);
    const info = await api(`/api/jobs/${encodeURIComponent(state.job)}/control`, { method: "POST", body });
    state.paused = info.paused;
    refreshButtons();
  } catch (err) {
    showError(err.message);
  }
}

async function stopJob(which) {
  const id = which === "compare" ? state.compareJob : which === "sweep" ? state.sweepJob : state.job;
  if (!id) return;
  try {
    await api(`/api/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" });
  } catch (err) {
    showError(err.message);
  }
}

// -- the world view ------------------------------------------------------------------------------------

function addWorldFrame(frame) {
  const w = state.world;
  w.frames.push(frame);
  const slider = $("#world-slider");
  slider.max = String(w.frames.length - 1);
  if (w.follow) {
    w.index = w.frames.length - 1;
    slider.value = String(w.index);
    if (state.tab === "world") drawWorld();
  }
}

async function showWorldTab() {
  const w = state.world;
  if (state.view.kind === "stored" && state.view.runId && (w.source !== "stored" || w.runId !== state.view.runId)
      && !(w.source === "live" && w.runId === state.view.runId && w.frames.length)) {
    await loadStoredWorld(state.view.runId);
  }
  drawWorld();
}

async function loadStoredWorld(runId) {
  const w = state.world;
  $("#world-note").textContent = "Replaying the stored run to re-derive its firms and flows…";
  document.body.dataset.world = "loading";
  let data;
  try {
    data = await api(`/api/runs/${encodeURIComponent(runId)}/world`);
  } catch (err) {
    $("#world-note").textContent = "";
    showError(`World view: ${err.message}`);
    document.body.dataset.world = "failed";
    return;
  }
  Object.assign(w, { layout: data.layout, frames: data.frames, fields: data.fields, fieldLabels: data.field_labels,
    source: "stored", runId, index: data.frames.length - 1, follow: false });
  const slider = $("#world-slider");
  slider.max = String(data.frames.length - 1);
  slider.value = String(w.index);
  const checks = (data.source.checks || []).map((c) => `${c.ok ? "✓" : "✗ differs:"} ${c.what}`).join("; ");
  $("#world-source").textContent = `${data.source.text} Replayed in ${data.source.seconds} s. ${checks}`;
  $("#world-note").textContent = "";
  document.body.dataset.world = "ready";
}

function worldScales(frames) {
  let talent = 1, capital = 1, people = 1;
  for (const f of frames) {
    for (const x of f.talent_flows) talent = Math.max(talent, x[2]);
    for (const x of f.capital_flows) capital = Math.max(capital, x[2]);
    for (const t of f.talent) people = Math.max(people, t || 0);
  }
  return { talent, capital, people };
}

function hash01(id) { const x = Math.sin(id * 12.9898) * 43758.5453; return x - Math.floor(x); }

function drawWorld() {
  const w = state.world;
  const host = $("#world");
  if (!w.layout || !w.frames.length) {
    host.replaceChildren(svg("text", { x: 500, y: 320, "text-anchor": "middle", class: "region-stats" }));
    host.firstChild.textContent = "Run a scenario or open a stored run to see its world.";
    $("#world-quarter").textContent = "–";
    return;
  }
  const frame = w.frames[Math.max(0, Math.min(w.index, w.frames.length - 1))];
  const scales = worldScales(w.frames);
  const W = 1000, H = 640;
  const pos = w.layout.regions.map((_, i) => [100 + w.layout.x[i] * 800, 105 + w.layout.y[i] * 420]);
  const radius = (t) => 26 + 40 * Math.sqrt((t || 0) / scales.people);
  const nodes = [];
  const defs = svg("defs");
  for (const kind of ["talent", "capital"]) {
    const marker = svg("marker", { id: `arrow-${kind}`, viewBox: "0 0 10 10", refX: 8, refY: 5, markerWidth: 4, markerHeight: 4, orient: "auto-start-reverse" });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: kind === "talent" ? "#1f78b4" : "#e08a00" }));
    defs.append(marker);
  }
  nodes.push(defs);
  const big = svg("text", { x: W - 20, y: H - 18, "text-anchor": "end", class: "big-quarter" });
  big.textContent = frame.quarter;
  nodes.push(big);
  // flows under the discs: curved, width ∝ the quarter's flow (widest of the run = 12 px)
  const flowLayer = svg("g", { class: "flows" });
  const showT = $("#world-talent").checked, showC = $("#world-capital").checked;
  // capital under talent: talent's (often thinner) arrows stay visible where both run
  for (const [kind, list, max, bend] of [["capital", frame.capital_flows, scales.capital, -0.18], ["talent", frame.talent_flows, scales.talent, 0.18]]) {
    if ((kind === "talent" && !showT) || (kind === "capital" && !showC)) continue;
    for (const [a, b, amount] of list) {
      if (amount < 0.02 * max) continue;
      const [x1, y1] = pos[a], [x2, y2] = pos[b];
      const dx = x2 - x1, dy = y2 - y1, len = Math.hypot(dx, dy) || 1;
      const ra = radius(frame.talent[a]) * 0.9, rb = radius(frame.talent[b]) * 0.95;
      const sx = x1 + dx / len * ra, sy = y1 + dy / len * ra, ex = x2 - dx / len * rb, ey = y2 - dy / len * rb;
      const cx = (sx + ex) / 2 - dy * bend, cy = (sy + ey) / 2 + dx * bend;
      const path = svg("path", { d: `M${sx.toFixed(1)},${sy.toFixed(1)} Q${cx.toFixed(1)},${cy.toFixed(1)} ${ex.toFixed(1)},${ey.toFixed(1)}`,
        class: `flow ${kind}`, "stroke-width": (1 + 11 * amount / max).toFixed(2), "marker-end": `url(#arrow-${kind})`,
        "data-from": w.layout.regions[a], "data-to": w.layout.regions[b], "data-amount": amount });
      const title = svg("title");
      title.textContent = `${kind === "talent" ? "Talent" : "Capital"} ${w.layout.regions[a]} → ${w.layout.regions[b]}: ${fmt(amount)} ${kind === "talent" ? "persons" : "M USD"} this quarter`;
      path.append(title);
      flowLayer.append(path);
    }
  }
  nodes.push(flowLayer);
  // regions and their firms
  const marks = new Map();
  for (const m of frame.marks) { if (!marks.has(m[1])) marks.set(m[1], []); marks.get(m[1]).push(m); }
  w.layout.regions.forEach((name, i) => {
    const [x, y] = pos[i];
    const r = radius(frame.talent[i]);
    const g = svg("g", { class: "region", "data-region": name });
    g.append(svg("circle", { cx: x, cy: y, r, class: "region-disc", stroke: colourOf(name, i) }));
    const label = svg("text", { x, y: y - r - 6, "text-anchor": "middle", class: "region-name", fill: colourOf(name, i) });
    label.textContent = name;
    const stats = svg("text", { x, y: y + r + 14, "text-anchor": "middle", class: "region-stats" });
    stats.textContent = `${fmt(frame.talent[i])} talent · ${fmt(frame.capital[i])} M$ pool`;
    const stats2 = svg("text", { x, y: y + r + 28, "text-anchor": "middle", class: "region-stats" });
    stats2.textContent = `${frame.dragons[i]} dragons · ${frame.firms[i]} firms`;
    g.append(label, stats, stats2);
    // biggest first, so smaller marks stay on top and clickable
    for (const m of (marks.get(i) || []).slice().sort((p, q) => (q[3] || 0) - (p[3] || 0))) {
      const [id, , field, value, head, dragon] = m;
      const angle = hash01(id) * 2 * Math.PI, dist = r * (0.12 + 0.78 * Math.sqrt(hash01(id + 7)));
      const mr = Math.max(2.5, Math.min(12, 1.5 + 1.6 * Math.sqrt((value || 0) / 100)));
      const c = svg("circle", { cx: (x + Math.cos(angle) * dist).toFixed(1), cy: (y + Math.sin(angle) * dist).toFixed(1), r: mr.toFixed(1),
        fill: fieldColour(field), class: "firm" + (dragon ? " dragon" : ""), tabindex: "0", "data-firm": id, "data-field": w.fields[field],
        "data-valuation": value, role: "button" });
      const title = svg("title");
      title.textContent = `Firm ${id} (${name}, ${(w.fieldLabels && w.fieldLabels[w.fields[field]]) || w.fields[field]})${dragon ? ", a dragon" : ""}: valuation ${fmt(value)} M USD, ${fmt(head)} staff — click for its biography`;
      c.append(title);
      c.addEventListener("click", () => openBio(id));
      c.addEventListener("keydown", (e) => { if (e.key === "Enter") openBio(id); });
      g.append(c);
    }
    nodes.push(g);
  });
  host.replaceChildren(...nodes);
  host.dataset.step = String(frame.step);
  host.dataset.quarter = frame.quarter;
  host.dataset.frames = String(w.frames.length);
  $("#world-quarter").textContent = frame.quarter;
  const legend = $("#world-legend");
  legend.replaceChildren(
    ...w.fields.map((f, i) => el("span", { class: "item" }, el("span", { class: "swatch", style: `background:${fieldColour(i)}` }), (w.fieldLabels && w.fieldLabels[f]) || f)),
    el("span", { class: "item" }, "● ringed: ", term("dragon", "dragon")),
    el("span", { class: "item", style: "color:#1f78b4" }, `→ talent (widest ${fmt(scales.talent)} persons/quarter)`),
    el("span", { class: "item", style: "color:#e08a00" }, `→ capital (widest ${fmt(scales.capital)} M USD/quarter)`),
    el("div", { class: "muted" }, `Marks: each region's 24 most valuable young firms (dragons first; incumbents left out), larger for a higher valuation (capped). Positions: ${w.layout.method}.`));
  if (w.source === "live") {
    $("#world-source").textContent = w.runId
      ? `Frames streamed by the run (replication 0), stored as ${w.runId}: click a firm for its biography.`
      : "Live: frames stream from the running job (replication 0); a firm's biography opens once the run is stored.";
  }
}

function playWorld() {
  const w = state.world;
  if (w.playing) { clearInterval(w.playing); w.playing = null; $("#world-play").textContent = "Play"; return; }
  if (!w.frames.length) return;
  if (w.index >= w.frames.length - 1) w.index = 0;
  w.follow = false;
  $("#world-play").textContent = "Pause";
  w.playing = setInterval(() => {
    if (w.index >= w.frames.length - 1) { playWorld(); return; }
    w.index += 1;
    $("#world-slider").value = String(w.index);
    drawWorld();
  }, Math.max(60, 3 * Number($("#speed").value) + 60));
}

// -- firm biographies ------------------------------------------------------------------------------------

function closeBio() {
  $("#bio").hidden = true;
  for (const c of state.bioCharts) c.destroy();
  state.bioCharts = [];
}

async function openBio(firmId) {
  const drawer = $("#bio");
  const body = $("#bio-body");
  drawer.hidden = false;
  drawer.dataset.firm = String(firmId);
  drawer.dataset.state = "loading";
  $("#bio-title").textContent = `Firm ${firmId}`;
  for (const c of state.bioCharts) c.destroy();
  state.bioCharts = [];
  const runId = state.view.runId;
  if (!runId) {
    body.replaceChildren(el("p", {}, "A firm's biography is re-derived from the stored run by replaying it; it is available once this run has been stored (when it ends)."));
    drawer.dataset.state = "unavailable";
    return;
  }
  body.replaceChildren(el("p", { class: "muted" }, `Replaying run ${runId} to re-derive firm ${firmId}'s history…`));
  let bio;
  try {
    bio = await api(`/api/runs/${encodeURIComponent(runId)}/firms/${firmId}`);
  } catch (err) {
    body.replaceChildren(el("p", { class: "error" }, err.message));
    drawer.dataset.state = "failed";
    return;
  }
  renderBio(bio, runId);
  drawer.dataset.state = "ready";
}

function renderBio(bio, runId) {
  const body = $("#bio-body");
  $("#bio-title").textContent = `Firm ${bio.firm_id} — ${bio.region}, ${bio.field_label}`;
  const base = `/api/runs/${encodeURIComponent(runId)}/firms/${bio.firm_id}`;
  const origin = bio.origin.kind === "spin-out"
    ? el("span", {}, "a ", term("spin-out", "spin-out"), " of ", el("button", { type: "button", class: "link", onclick: () => openBio(bio.origin.parent) }, `firm ${bio.origin.parent}`))
    : bio.origin.text;
  const facts = el("ul", { class: "facts" },
    el("li", {}, `Founded ${bio.founded_quarter}: `, origin, bio.origin.founder !== null ? ` (founder: talent agent ${bio.origin.founder})` : ""),
    bio.dragon ? el("li", {}, "Became a ", term("dragon"), ` in ${bio.dragon.quarter}, valued ${fmt(bio.dragon.valuation_musd)} M USD`) : el("li", {}, "Never became a dragon"),
    bio.expanded ? el("li", { text: `Opened foreign markets in ${bio.expanded.quarter}` }) : null,
    bio.pivots.length ? el("li", {}, term("pivot", `Pivoted ${bio.pivots.length}×`), `: ${bio.pivots.map((p) => p.quarter).join(", ")}`) : null,
    el("li", { class: "bio-end" }, el("b", { text: "End: " }), bio.end.text));
  const rounds = el("table", { id: "bio-rounds" },
    el("thead", {}, el("tr", {}, el("th", { text: "Quarter" }), el("th", {}, term("round", "Round")), el("th", { class: "num", text: "Amount M$" }),
      el("th", {}, term("investor region", "Investors' region")), el("th", { class: "num", text: "Post-money M$" }))),
    el("tbody", {}, ...bio.rounds.map((r) => el("tr", { dataset: { step: r.step } },
      el("td", { text: r.quarter }), el("td", { text: r.kind }), el("td", { class: "num", text: fmt(r.amount_musd) }),
      el("td", { text: r.investor_region || "–" }), el("td", { class: "num", text: fmt(r.post_money_musd) })))));
  const imit = Object.entries(bio.imitation.by_region);
  const scenes = bio.scenes.length
    ? el("ul", { class: "facts" }, ...bio.scenes.map((s) => el("li", { text: `${s.quarter}: niche ${s.niche_id} (size ${fmt(s.size)})` })))
    : el("p", { class: "muted small", text: "None." });
  const checks = (bio.source.checks || []).map((c) => el("li", { class: c.ok ? "ok" : "warn" }, `${c.ok ? "✓ matches" : "✗ differs:"} ${c.what}`));
  const mini = el("div", { class: "mini" });
  const charts = [["headcount", "Headcount (persons)"], ["revenue", "Revenue (M USD / quarter)"], ["capability", "Capability vs frontier (log)"], ["valuation", "Valuation (M USD)"]];
  const canvases = charts.map(([key, title]) => {
    const canvas = el("canvas", { id: `bio-chart-${key}` });
    mini.append(el("figure", { class: "plot" }, el("figcaption", { text: title }), el("div", { class: "canvas-box" }, canvas)));
    return [key, canvas];
  });
  body.replaceChildren(
    facts,
    el("h3", { text: `Funding rounds (${bio.rounds.length})` }), el("div", { class: "table-wrap" }, rounds),
    el("h3", { text: "Over time" }), mini,
    el("h3", {}, term("imitation", "Spillover sources it imitated")),
    imit.length ? el("p", { class: "small" }, `${bio.imitation.quarters.length} successful imitations: ` + imit.map(([r, n]) => `${r} ${n}×`).join(", ") + ".")
      : el("p", { class: "muted small", text: "None." }),
    el("h3", {}, term("scene", "Scenes it defined")), scenes,
    el("h3", { text: "How this was made" }),
    el("p", { class: "small" }, bio.source.text, ` Replayed ${bio.source.quarters_replayed} quarters in ${bio.source.seconds} s.`),
    el("ul", { class: "facts small", id: "bio-checks" }, ...checks),
    el("p", { class: "downloads" },
      el("a", { href: withToken(base + "?format=csv&download=true"), download: `${runId}-firm-${bio.firm_id}.csv`, class: "bio-csv" }, "Download CSV (quarter by quarter)"),
      el("a", { href: withToken(base + "?format=json&download=true"), download: `${runId}-firm-${bio.firm_id}.json`, class: "bio-json" }, "Download JSON (everything)")));
  const p = bio.panel;
  for (const [key, canvas] of canvases) {
    const datasets = [{ label: key, data: p[key], borderColor: "#2f6f4f", borderWidth: 1.5, pointRadius: 0 }];
    if (key === "capability") datasets.push({ label: "frontier", data: p.frontier, borderColor: "#999", borderDash: [4, 3], borderWidth: 1.2, pointRadius: 0 });
    state.bioCharts.push(new Chart(canvas, {
      type: "line", data: { labels: p.quarter, datasets },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: key === "capability", labels: { boxWidth: 8, font: { size: 9 } } } },
        scales: { x: { ticks: { maxTicksLimit: 4, font: { size: 9 }, maxRotation: 0 } }, y: { ticks: { font: { size: 9 }, callback: (v) => fmt(v) } } } },
    }));
  }
  $("#bio").dataset.rounds = String(bio.rounds.length);
}

// -- compare -------------------------------------------------------------------------------------------

function fillCompareChoices() {
  const select = $("#compare-b");
  const keep = select.value;
  const options = (state.presets || []).map((p) => el("option", { value: "preset:" + p.name, text: `preset ${p.name} (its defaults)` }));
  state.savedB.forEach((snap, i) => options.push(el("option", { value: "saved:" + i, text: snap.label })));
  select.replaceChildren(...options);
  if (keep && [...select.options].some((o) => o.value === keep)) select.value = keep;
}

function fillFocal(regions) {
  const select = $("#focal");
  const want = readUrl().focal || select.value;
  select.replaceChildren(...regions.map((r) => el("option", { value: r, text: r })));
  if (want && regions.includes(want)) select.value = want;
}

function changeLabel(spec) {
  const n = Object.keys(spec.overrides).length + (spec.seed !== undefined ? 1 : 0);
  const base = spec.base ? spec.base : spec.preset;
  return `${base}` + (n ? ` with ${n} change${n > 1 ? "s" : ""}` : " (as is)");
}

function saveB() {
  const spec = currentSpec();
  spec.label = `B${state.savedB.length + 1}: ${changeLabel(spec)}`;
  state.savedB.push(spec);
  fillCompareChoices();
  $("#compare-b").value = "saved:" + (state.savedB.length - 1);
  $("#compare-status").textContent = `Saved the current controls as “${spec.label}”.`;
}

function specB() {
  const v = $("#compare-b").value || "";
  if (v.startsWith("saved:")) return Object.assign({}, state.savedB[Number(v.slice(6))]);
  const name = v.startsWith("preset:") ? v.slice(7) : state.spec.preset;
  const b = { preset: name, overrides: {}, label: `B: ${name} (preset)` };
  // same scale, horizon and seed as A so the comparison is about the levers, not the resolution
  const a = currentSpec();
  for (const key of ["scale", "time.end_year"]) {
    if (key in a.overrides) b.overrides[key] = a.overrides[key];
    else if (state.spec.base) b.overrides[key] = state.values[key];
  }
  b.seed = state.values.seed;
  return b;
}

async function startCompare() {
  if (state.compareJob) return;
  $("#compare").disabled = true;
  showError("");
  const a = currentSpec();
  a.label = `A: ${changeLabel(a)}`;
  const body = { a, b: specB(), replications: Number($("#compare-reps").value) || 1 };
  let job;
  try {
    job = await api("/api/jobs/compare", { method: "POST", body });
  } catch (err) {
    refreshButtons();
    showError(err.message);
    markInvalid(err.detail);
    return;
  }
  attachCompare(job, body.replications);
}

function attachCompare(job, reps) {
  closeSource("compareSource");
  state.compareJob = job.id;
  document.body.dataset.compareStatus = job.status;
  refreshButtons();
  const status = $("#compare-status");
  status.textContent = job.status === "queued" ? `Queued (#${job.queue_position})…` : "Running…";
  const source = new EventSource(withToken(job.events_url));
  state.compareSource = source;
  source.addEventListener("started", () => { status.textContent = "Running…"; });
  source.addEventListener("progress", (e) => {
    const d = JSON.parse(e.data);
    status.textContent = `Running — ${d.side ? "B" : "A"}, replication ${d.replication + 1} of ${reps} (${Math.round(100 * d.done / d.total)}%)`;
  });
  source.addEventListener("result", (e) => { state.compareResult = JSON.parse(e.data); renderCompare(); });
  source.addEventListener("end", (e) => {
    const d = JSON.parse(e.data);
    source.close();
    if (state.compareSource === source) state.compareSource = null;
    state.compareJob = null;
    document.body.dataset.compareStatus = d.status;
    refreshButtons();
    if (d.status === "done") status.textContent = `Done — ${reps} paired replication${reps > 1 ? "s" : ""}.`;
    else if (d.status === "cancelled") status.textContent = `Stopped — ${d.note || ""}.`;
    else { status.textContent = "Failed."; showError(d.error || "the comparison failed"); }
    loadRuns();
  });
}

const errorBarPlugin = {
  id: "errorBars",
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    const x = chart.scales.x;
    ctx.save();
    chart.data.datasets.forEach((ds, di) => {
      const meta = chart.getDatasetMeta(di);
      if (meta.hidden || !ds.intervals) return;
      meta.data.forEach((bar, i) => {
        const iv = ds.intervals[i];
        if (!iv || iv.lo === null || iv.hi === null) return;
        const left = x.getPixelForValue(iv.lo), right = x.getPixelForValue(iv.hi);
        const half = Math.min(6, bar.height / 3);
        ctx.strokeStyle = "#222";
        ctx.lineWidth = 1.3;
        ctx.beginPath();
        ctx.moveTo(left, bar.y); ctx.lineTo(right, bar.y);
        ctx.moveTo(left, bar.y - half); ctx.lineTo(left, bar.y + half);
        ctx.moveTo(right, bar.y - half); ctx.lineTo(right, bar.y + half);
        ctx.stroke();
      });
    });
    ctx.restore();
  },
};

function renderCompare() {
  const result = state.compareResult;
  if (!result) return;
  const focal = $("#focal").value || result.regions[0];
  const order = (r) => result.outcomes.findIndex((x) => x.metric === r.metric) * 2 + (r.scope === "world" ? 1 : 0);
  const rows = result.outcomes.filter((r) => r.scope === focal || r.scope === "world").sort((p, q) => order(p) - order(q));
  const boot = result.interval === "bootstrap";
  $("#compare-changed").replaceChildren(el("b", {}, term("changed levers", "What B changes"), ` (${result.changed.length}): `),
    result.changed.length ? el("ul", {}, ...result.changed.slice(0, 30).map((c) => el("li", {}, el("code", { text: c.path }), `: A ${JSON.stringify(c.a)} → B ${JSON.stringify(c.b)}`)))
      : el("span", { class: "muted", text: "nothing — A and B are the same scenario" }));
  const head = $("#compare-table thead");
  const cols = ["Outcome", result.labels[0] || "A", result.labels[1] || "B", "B − A"];
  cols.push(boot ? "95% interval" : "paired B − A per replication");
  head.replaceChildren(el("tr", {}, ...cols.map((t, i) => el("th", { class: i && i < 4 ? "num" : "" }, i === 3 ? term("paired difference", t) : i === 4 && boot ? term("bootstrap interval", t) : t))));
  const body = $("#compare-table tbody");
  body.replaceChildren(...rows.map((r) => el("tr", { dataset: { key: r.key, scope: r.scope }, title: result.outcome_docs[r.metric] || "" },
    el("td", {}, el("span", { class: "swatch", style: `background:${r.scope === "world" ? "#333" : colourOf(r.scope, result.regions.indexOf(r.scope))}` }), `${r.metric.replace(/_/g, " ")} — ${r.scope}`),
    el("td", { class: "num", text: fmt(r.a) }), el("td", { class: "num", text: fmt(r.b) }),
    el("td", { class: "num" + (r.significant ? " ok" : ""), text: fmtSigned(r.diff) }),
    boot ? el("td", { class: "num", text: r.lo === null ? "–" : `[${fmt(r.lo)}, ${fmt(r.hi)}]` })
      : el("td", { class: "paired", text: r.paired.map(fmtSigned).join(", ") }))));
  $("#compare-note").textContent = result.interval_note + ". Green: the interval excludes 0.";
  // B − A bars with intervals for the focal region and the world
  const keys = ["dragons", "births", "exits", "talent_end", "investor_capital_end"];
  const bars = [];
  for (const scope of [focal, "world"]) for (const m of keys) {
    const r = result.outcomes.find((x) => x.scope === scope && x.metric === m);
    if (r) bars.push(r);
  }
  const canvas = $("#chart-compare");
  if (state.compareCharts.bars) state.compareCharts.bars.destroy();
  // scale each outcome to % of A's mean so different units share an axis
  const pct = (r, v) => (r.a ? (100 * v) / Math.abs(r.a) : null);
  state.compareCharts.bars = new Chart(canvas, {
    type: "bar",
    data: { labels: bars.map((r) => `${r.metric.replace(/_/g, " ")} (${r.scope})`),
      datasets: [{ label: "B − A, % of A", data: bars.map((r) => pct(r, r.diff)),
        intervals: bars.map((r) => (r.lo === null ? null : { lo: pct(r, r.lo), hi: pct(r, r.hi) })),
        backgroundColor: bars.map((r) => (r.scope === "world" ? "#55616bcc" : colourOf(r.scope, result.regions.indexOf(r.scope)) + "cc")) }] },
    plugins: [errorBarPlugin],
    options: { indexAxis: "y", animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { display: false }, tooltip: { callbacks: { label: (ctx) => { const r = bars[ctx.dataIndex]; return `B − A = ${fmtSigned(r.diff)}${r.lo !== null ? ` [${fmt(r.lo)}, ${fmt(r.hi)}]` : ""} (A ${fmt(r.a)}, B ${fmt(r.b)})`; } } } },
      scales: { x: { title: { display: true, text: "B − A, % of A's mean" + (boot ? " (whiskers: 95% bootstrap interval)" : " (no interval below 5 pairs)"), font: { size: 10 } }, ticks: { font: { size: 10 } } }, y: { ticks: { font: { size: 10 }, autoSkip: false } } } },
  });
  canvas.dataset.bars = String(bars.length);
  canvas.dataset.intervals = String(bars.filter((r) => r.lo !== null).length);
  // dragons over time: focal region and world, A and B, mean and 95% band
  const tcanvas = $("#chart-compare-time");
  if (state.compareCharts.time) state.compareCharts.time.destroy();
  const datasets = [];
  const idx = result.regions.indexOf(focal);
  const sides = [["a", "#e4572e", result.labels[0]], ["b", "#1f5fbf", result.labels[1]]];
  for (const [side, colour, label] of sides) {
    const band = result.series[side];
    if (!band) continue;
    const n = band.dragons.mean[0] ? band.dragons.mean[0].length : 0;
    for (const [i, what, dash] of [[idx, focal, []], [n - 1, "world", [5, 3]]]) {
      const col = (arr) => arr.map((row) => row[i]);
      datasets.push({ label: `${label} ${what} 2.5%`, data: col(band.dragons.lo), band: true, borderWidth: 0, pointRadius: 0, fill: false, borderColor: "transparent" });
      datasets.push({ label: `${label} ${what} 97.5%`, data: col(band.dragons.hi), band: true, borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: colour + "26", borderColor: "transparent" });
      datasets.push({ label: `${side.toUpperCase()} — ${what}`, data: col(band.dragons.mean), borderColor: colour, borderDash: dash, borderWidth: 1.6, pointRadius: 0 });
    }
  }
  const quarters = (result.series.a || result.series.b || { quarters: [] }).quarters;
  state.compareCharts.time = new Chart(tcanvas, {
    type: "line", data: { labels: quarters, datasets },
    options: { animation: false, responsive: true, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 10, font: { size: 10 }, filter: (item, data) => !data.datasets[item.datasetIndex].band } },
        tooltip: { filter: (item) => !item.dataset.band } },
      scales: { x: { ticks: { maxTicksLimit: 7, font: { size: 10 }, maxRotation: 0 } }, y: { title: { display: true, text: "dragons (cumulative count)", font: { size: 10 } }, beginAtZero: true } } },
  });
  tcanvas.dataset.bands = String(datasets.filter((d) => d.band).length / 2);
}

// -- experiments -------------------------------------------------------------------------------------

function sweepCandidates() {
  return state.spec.controls.filter((c) => c.type !== "boolean" && !["seed", "time.end_year", "scale"].includes(c.key));
}

function factorRow(key) {
  const c = controlOf(key) || sweepCandidates()[0];
  const select = el("select", { class: "factor-path", "aria-label": "Factor" },
    ...sweepCandidates().map((x) => el("option", { value: x.key, text: `${x.group.replace("Region: ", "")} · ${x.label}` })));
  select.value = c.key;
  const lo = el("input", { type: "number", class: "factor-lo", step: "any", "aria-label": "from" });
  const hi = el("input", { type: "number", class: "factor-hi", step: "any", "aria-label": "to" });
  const fill = () => {
    const x = controlOf(select.value);
    lo.value = String(x.plausible_min ?? x.minimum ?? 0);
    hi.value = String(x.plausible_max ?? x.maximum ?? 1);
    row.dataset.tip = controlTip(x);
  };
  const row = el("div", { class: "factor" }, select, "from", lo, "to", hi,
    el("button", { type: "button", class: "link", onclick: () => { row.remove(); sweepSize(); } }, "remove"),
    el("span", { class: "field-error small" }));
  select.addEventListener("change", () => { fill(); sweepSize(); });
  fill();
  return row;
}

function buildSweepForm() {
  const focal = $("#focal").value || state.spec.regions[0];
  const host = $("#sweep-factors");
  host.replaceChildren(factorRow(`regions.${focal}.policy.startup_support`), factorRow(`regions.${focal}.living_cost`));
  const outs = [[`dragons_${focal}`, true], [`births_${focal}`, true], ["dragons", false], [`net_inflow_${focal}`, false], [`talent_end_${focal}`, false]];
  $("#sweep-outcomes").replaceChildren(...outs.map(([name, on]) => el("label", {}, el("input", { type: "checkbox", value: name, checked: on, class: "sweep-outcome" }), " " + name)));
  sweepSize();
}

function sweepSize() {
  const k = document.querySelectorAll("#sweep-factors .factor").length;
  const n = Number($("#sweep-samples").value) || 0;
  const reps = Number($("#sweep-reps").value) || 1;
  const design = $("#sweep-design").value;
  const runs = { lhs: n, factorial: n ** k, sobol: n * (k + 2), morris: n * (k + 1) }[design] * reps;
  const limit = state.spec ? state.spec.limits.max_sweep_runs : 0;
  $("#sweep-size").textContent = `= ${runs} runs (this server allows ${limit} per sweep)` + (design === "sobol" ? "; samples must be a power of 2" : "");
  $("#sweep-size").classList.toggle("warn", runs > limit);
}

async function startSweep() {
  if (state.sweepJob) return;
  $("#sweep-run").disabled = true;
  const errBox = $("#sweep-error");
  errBox.hidden = true;
  document.querySelectorAll("#sweep-factors .factor").forEach((r) => { r.classList.remove("invalid"); r.querySelector(".field-error").textContent = ""; });
  const factors = [...document.querySelectorAll("#sweep-factors .factor")].map((r) => ({
    path: r.querySelector(".factor-path").value, lo: Number(r.querySelector(".factor-lo").value), hi: Number(r.querySelector(".factor-hi").value) }));
  const body = { scenario: currentSpec(), name: "dashboard-sweep", design: $("#sweep-design").value, factors,
    samples: Number($("#sweep-samples").value), replications: Number($("#sweep-reps").value),
    outcomes: [...document.querySelectorAll(".sweep-outcome:checked")].map((x) => x.value), seed: Number(state.values.seed) || 0 };
  let job;
  try {
    job = await api("/api/jobs/sweep", { method: "POST", body });
  } catch (err) {
    refreshButtons();
    const item = Array.isArray(err.detail) ? err.detail[0] : null;
    errBox.textContent = err.message;
    errBox.hidden = false;
    if (item && item.loc[1] === "factors" && Number.isInteger(item.loc[2])) {
      const row = document.querySelectorAll("#sweep-factors .factor")[item.loc[2]];
      if (row) { row.classList.add("invalid"); row.querySelector(".field-error").textContent = item.msg; }
    } else if (item && item.loc[1] === "scenario") markInvalid(err.detail);
    return;
  }
  attachSweep(job);
}

/** Follow a sweep job (a new one, or one found running after a reload). */
function attachSweep(job) {
  closeSource("sweepSource");
  state.sweepJob = job.id;
  refreshButtons();
  const status = $("#sweep-status");
  status.textContent = job.deduplicated ? "Already running — following it." : job.status === "running" ? "Running…" : "Queued…";
  const source = new EventSource(withToken(job.events_url));
  state.sweepSource = source;
  document.body.dataset.sweepStatus = "running";
  source.addEventListener("progress", (e) => { const d = JSON.parse(e.data); status.textContent = `Running — ${d.done} of ${d.total} runs stored`; });
  source.addEventListener("result", (e) => renderSweep(JSON.parse(e.data)));
  source.addEventListener("end", (e) => {
    const d = JSON.parse(e.data);
    source.close();
    state.sweepSource = null;
    state.sweepJob = null;
    document.body.dataset.sweepStatus = d.status;
    refreshButtons();
    status.textContent = d.status === "done" ? "Done — stored in dashboard-sweeps.duckdb." : d.status === "cancelled" ? `Stopped — ${d.note}.` : `Failed: ${d.error}`;
    loadSweeps();
  });
}

function renderSweep(result) {
  const host = $("#sweep-result");
  const short = (p) => p.replace(/^regions\./, "").replace(/\.policy\./, " · ").replace(/\./g, " · ");
  const corr = el("table", { id: "sweep-corr" },
    el("thead", {}, el("tr", {}, el("th", { text: "Outcome" }), ...result.factors.map((f) => el("th", { class: "num", text: short(f) })))),
    el("tbody", {}, ...result.outcomes.map((o) => el("tr", {}, el("td", { text: o }),
      ...result.factors.map((f) => el("td", { class: "num", text: fmt(result.correlations[o][f]) }))))));
  const parts = [el("p", { class: "small" }, el("b", { text: `Sweep ${result.sweep_id}` }),
    ` (${result.design}): ${result.runs} of ${result.expected_runs} runs, ${result.samples} samples × ${result.replications} replication(s)` + (result.complete ? "." : " — incomplete: run the same sweep again to finish it.")),
  el("p", { class: "muted small", text: "Spearman rank correlation of each outcome (sample means) with each factor:" }), corr];
  const sens = result.sensitivity;
  if (sens && sens.error) parts.push(el("p", { class: "warn small", text: sens.error }));
  else if (sens) {
    const sobol = sens.method === "sobol";
    const table = el("table", { id: "sweep-sens" },
      el("thead", {}, el("tr", {}, el("th", { text: "Outcome" }), el("th", { text: "Factor" }),
        ...(sobol ? ["S1", "± (95%)", "ST", "± (95%)"] : ["μ*", "± (95%)", "μ", "σ"]).map((t) => el("th", { class: "num", text: t })))),
      el("tbody", {}, ...Object.entries(sens.outcomes).flatMap(([o, entry]) => entry.factors.map((f) => el("tr", {}, el("td", { text: o }), el("td", { text: short(f.factor) }),
        ...(sobol ? [f.S1, f.S1_conf, f.ST, f.ST_conf] : [f.mu_star, f.mu_star_conf, f.mu, f.sigma]).map((v) => el("td", { class: "num", text: fmt(v) })))))));
    parts.push(el("p", { class: "muted small", text: sobol ? "Sobol indices: S1 = share of the outcome's variance due to the factor alone, ST = including its interactions." : "Morris: μ* = mean absolute elementary effect (outcome units per normalised range), σ = its spread (non-linearity, interactions)." }), table);
  }
  const pickO = el("select", { "aria-label": "Outcome" }, ...result.outcomes.map((o) => el("option", { value: o, text: o })));
  const pickF = el("select", { "aria-label": "Factor" }, ...result.factors.map((f) => el("option", { value: f, text: short(f) })));
  const canvas = el("canvas", { id: "chart-sweep" });
  parts.push(el("div", { class: "row" }, "Scatter:", pickO, "against", pickF), el("figure", { class: "plot" }, el("div", { class: "canvas-box" }, canvas)));
  host.replaceChildren(...parts);
  host.dataset.sweep = result.sweep_id;
  host.dataset.rows = String(result.rows.length);
  const draw = () => {
    if (state.sweepChart) state.sweepChart.destroy();
    const o = pickO.value, f = pickF.value;
    state.sweepChart = new Chart(canvas, {
      type: "scatter", data: { datasets: [{ label: `${o} (mean over replications)`, data: result.rows.map((r) => ({ x: r[f], y: r[o] })), backgroundColor: "#2f6f4fcc" }] },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { title: { display: true, text: short(f) } }, y: { title: { display: true, text: o } } } },
    });
  };
  pickO.addEventListener("change", draw);
  pickF.addEventListener("change", draw);
  draw();
}

let sweepsShown = "";

async function loadSweeps() {
  let data;
  try { data = await api("/api/sweeps"); } catch (_err) { return; }
  const key = JSON.stringify(data);
  if (key === sweepsShown) return;  // unchanged: keep the rows (a click on one may be under way)
  sweepsShown = key;
  $("#sweeps tbody").replaceChildren(...data.sweeps.map((sw) => el("tr", { dataset: { sweep: sw.sweep_id } },
    el("td", {}, el("code", { text: sw.sweep_id })), el("td", { text: sw.name }), el("td", { text: sw.design }),
    el("td", { class: "num", text: `${sw.stored} / ${sw.runs}` }), el("td", { text: (sw.created_at || "").replace("T", " ").replace("+00:00", "") }),
    el("td", { class: "muted", text: sw.store }),
    el("td", { class: "actions" },
      el("button", { type: "button", class: "open-sweep", onclick: async () => {
        try { renderSweep(await api(`/api/sweeps/${sw.sweep_id}`)); } catch (err) { showError(err.message); }
      } }, "Open"),
      sw.store === "dashboard-sweeps.duckdb" ? el("button", { type: "button", class: "danger", onclick: async () => {
        if (!confirm(`Delete sweep ${sw.sweep_id} and its ${sw.stored} runs?`)) return;
        try { await api(`/api/sweeps/${sw.sweep_id}`, { method: "DELETE" }); } catch (err) { showError(err.message); }
        loadSweeps();
      } }, "Delete") : null))));
}

// -- past runs -------------------------------------------------------------------------------------------

let runsRequest = 0;
let runsShown = "";

async function loadRuns({ force = false } = {}) {
  const mine = ++runsRequest;
  let data;
  try {
    data = await api("/api/runs");
  } catch (err) {
    $("#runs-note").textContent = err.message;
    return;
  }
  if (mine !== runsRequest) return;  // a newer request will render
  if (!force && document.querySelector("#runs input.label-input")) return;  // do not drop a label being typed
  const key = JSON.stringify(data);
  if (key === runsShown && !force) return;  // unchanged: keep the rows (a click on one may be under way)
  runsShown = key;
  const body = $("#runs tbody");
  body.replaceChildren(...data.runs.map((r) => {
    const labelCell = el("td", { class: "label-cell" }, r.label ? el("b", { text: r.label }) : el("span", { class: "muted", text: "—" }));
    const tr = el("tr", { dataset: { run: r.run_id } },
      labelCell,
      el("td", {}, el("code", { text: r.run_id }), el("div", { class: "muted small", text: `${r.scenario_name || ""}, seed ${r.seed ?? "?"}, replication ${r.replication ?? "?"}` })),
      el("td", { class: "num", text: r.scale ?? "" }),
      el("td", { class: "num", text: r.steps ?? "" }),
      el("td", { class: "small", text: (r.started_at || "").replace("T", " ").replace("+00:00", "") }),
      el("td", { class: "num", text: r.dragons ?? "" }),
      el("td", { class: "muted small", text: r.store }),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "open-run", onclick: () => openRun(r.run_id) }, "Open"),
        el("button", { type: "button", class: "label-run", onclick: () => editLabel(labelCell, r) }, "Label"),
        r.deletable ? el("button", { type: "button", class: "delete-run danger", onclick: () => deleteRun(r) }, "Delete")
          : el("button", { type: "button", disabled: true, title: `${r.store} is only read by the dashboard` }, "Delete"),
        downloadLinks(r.run_id)));
    return tr;
  }));
  const note = [`${data.runs.length} run${data.runs.length === 1 ? "" : "s"}`];
  if (data.own_store_mb !== null) note.push(`dashboard.duckdb ${fmt(data.own_store_mb)} MB`);
  if (data.hidden_sweep_runs) note.push(`${data.hidden_sweep_runs} runs of sweeps under Experiments`);
  if (data.unavailable.length) note.push(`busy: ${data.unavailable.join(", ")}`);
  $("#runs-note").textContent = note.join("; ");
}

function editLabel(cell, run) {
  const input = el("input", { type: "text", value: run.label || "", maxlength: "80", "aria-label": "Run label", class: "label-input" });
  const save = async () => {
    try {
      await api(`/api/runs/${encodeURIComponent(run.run_id)}/label`, { method: "PUT", body: { label: input.value } });
    } catch (err) { showError(err.message); }
    loadRuns({ force: true });
  };
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") save(); if (e.key === "Escape") loadRuns({ force: true }); });
  cell.replaceChildren(input, el("button", { type: "button", class: "save-label", onclick: save }, "Save"));
  input.focus();
}

async function deleteRun(run) {
  if (!confirm(`Delete run ${run.run_id}${run.label ? ` (“${run.label}”)` : ""} from ${run.store}? This cannot be undone.`)) return;
  try {
    await api(`/api/runs/${encodeURIComponent(run.run_id)}`, { method: "DELETE" });
  } catch (err) {
    showError(err.message);
  }
  if (state.view.runId === run.run_id) { state.view = { kind: null, runId: null }; writeUrl(); }
  loadRuns();
}

/** Open a stored run: its full scenario goes into the controls (as the base), its results into the views. */
async function openRun(runId, { fromUrl = false } = {}) {
  showError("");
  let detail;
  try {
    detail = await api("/api/runs/" + encodeURIComponent(runId));
  } catch (err) {
    showError(err.message);
    return;
  }
  if (state.job) {  // the page follows one run at a time: it never drops a running job out of sight
    showError("A run is in progress: Stop it, or wait until it ends, before opening another.");
    return;
  }
  if (!fromUrl) {
    try {
      await loadControls({ preset: state.spec.preset, base: detail.base });
    } catch (err) {
      showError(`The run's scenario could not be loaded into the controls: ${err.message}`);
    }
  }
  showStored(detail);
  setTab("plots");
  window.scrollTo({ top: 0, behavior: "instant" });
}

function showStored(detail) {
  const runId = detail.run.run_id;
  state.view = { kind: "stored", runId };
  resetCharts(detail.regions, detail.fields, detail.field_labels);
  for (const step of detail.steps) addStep(step);
  clearDragons("stored run, newest first");
  addDragons(detail.dragons);
  renderOutcomeSummary(detail.outcomes, detail.regions, `stored run, replication ${detail.run.replication}`);
  if (detail.bands) {
    requestAnimationFrame(() => drawBands(detail.bands, `Mean and 95% band (2.5th–97.5th percentile) over the ${detail.bands.replications} stored replications of this scenario and seed; the table shows replication ${detail.run.replication}.`));
  }
  const label = detail.run.label ? ` “${detail.run.label}”` : "";
  setStatus(`Viewing stored run ${runId}${label} (${detail.run.scenario_name}, seed ${detail.run.seed}, replication ${detail.run.replication}); its scenario is in the controls.`, 1);
  $("#run-links").replaceChildren(el("code", { text: runId }), " ", downloadLinks(runId));
  document.body.dataset.opened = runId;
  state.world.source = null;
  refreshButtons();
  writeUrl();
  if (state.tab === "world") showWorldTab();
}

// -- glossary ----------------------------------------------------------------------------------------------

async function loadGlossary() {
  let data;
  try { data = await api("/api/glossary"); } catch (_err) { return; }
  state.glossary.clear();
  for (const t of data.terms) for (const name of [t.term, ...t.aliases]) if (!state.glossary.has(name.toLowerCase())) state.glossary.set(name.toLowerCase(), t);
  const host = $("#glossary");
  host.replaceChildren(...Object.entries(data.groups).map(([group, title]) => el("section", { dataset: { group } }, el("h3", { text: title }),
    el("dl", {}, ...data.terms.filter((t) => t.group === group).flatMap((t) => [
      el("dt", { id: "term-" + t.term.replace(/[^A-Za-z0-9]+/g, "-") }, t.term, t.unit ? el("span", { class: "muted small", text: ` (${t.unit})` }) : null),
      el("dd", { text: t.definition })])))));
}

// -- tabs ------------------------------------------------------------------------------------------------

function setTab(tab) {
  const tabs = ["plots", "world", "compare", "experiments", "runs", "info"];
  if (!tabs.includes(tab)) tab = "plots";
  state.tab = tab;
  for (const b of document.querySelectorAll("#tabs button")) b.setAttribute("aria-selected", String(b.dataset.tab === tab));
  for (const t of tabs) $("#tab-" + t).hidden = t !== tab;
  document.body.dataset.tab = tab;
  if (tab === "world") showWorldTab();
  if (tab === "runs") loadRuns();
  if (tab === "experiments") loadSweeps();
  writeUrl();
}

// -- wiring ------------------------------------------------------------------------------------------------

function wire() {
  $("#run").addEventListener("click", startRun);
  $("#stop").addEventListener("click", () => stopJob("run"));
  $("#pause").addEventListener("click", () => controlJob(state.paused ? "resume" : "pause"));
  $("#step").addEventListener("click", () => controlJob("step"));
  $("#speed").addEventListener("change", () => { if (state.job) controlJob("pace"); writeUrl(); });
  $("#reset").addEventListener("click", () => { resetControls(); writeUrl(); });
  $("#preset").addEventListener("change", async () => { await loadControls({ preset: $("#preset").value }); writeUrl(); });
  $("#back-to-preset").addEventListener("click", async () => { await loadControls({ preset: state.spec.preset }); writeUrl(); });
  $("#scenario-file").addEventListener("change", (e) => { loadScenarioFile(e.target.files[0]); e.target.value = ""; });
  $("#replications").addEventListener("change", writeUrl);
  $("#compare").addEventListener("click", startCompare);
  $("#compare-stop").addEventListener("click", () => stopJob("compare"));
  $("#save-b").addEventListener("click", saveB);
  $("#focal").addEventListener("change", () => { renderCompare(); writeUrl(); });
  $("#refresh-runs").addEventListener("click", () => loadRuns({ force: true }));
  $("#refresh-sweeps").addEventListener("click", loadSweeps);
  $("#sweep-run").addEventListener("click", startSweep);
  $("#sweep-stop").addEventListener("click", () => stopJob("sweep"));
  $("#sweep-add").addEventListener("click", () => { if (document.querySelectorAll("#sweep-factors .factor").length < 4) { $("#sweep-factors").append(factorRow(sweepCandidates()[0].key)); sweepSize(); } });
  for (const id of ["#sweep-samples", "#sweep-reps", "#sweep-design"]) $(id).addEventListener("change", sweepSize);
  $("#bio-close").addEventListener("click", closeBio);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("#bio").hidden) closeBio(); });
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => setTab(b.dataset.tab));
  $("#world-slider").addEventListener("input", () => {
    const w = state.world;
    w.index = Number($("#world-slider").value);
    w.follow = w.index >= w.frames.length - 1 && w.source === "live";
    drawWorld();
  });
  $("#world-play").addEventListener("click", playWorld);
  $("#world-talent").addEventListener("change", drawWorld);
  $("#world-capital").addEventListener("change", drawWorld);
  window.addEventListener("beforeunload", () => { closeSource("source"); closeSource("compareSource"); closeSource("sweepSource"); });
  wireTips();
}

/** Rebuild the page from the URL and the server's job list. */
async function restore() {
  const url = readUrl();
  state.loadingUrl = true;
  try {
    if (url.speed !== null && [...$("#speed").options].some((o) => o.value === url.speed)) $("#speed").value = url.speed;
    if (url.reps) $("#replications").value = String(url.reps);
    let jobs = [];
    try { jobs = await api("/api/jobs"); } catch (_err) { jobs = []; }
    const alive = (j) => j && (j.status === "queued" || j.status === "running");
    let job = url.job ? jobs.find((j) => j.id === url.job) : null;
    if (!alive(job)) job = [...jobs].reverse().find((j) => j.kind === "run" && alive(j)) || null;
    if (job && job.spec) {
      await loadControls({ preset: job.spec.preset, base: job.spec.base });
      applyOverrides(job.spec.overrides, job.spec.seed);
      if (job.spec.replications) $("#replications").value = String(job.spec.replications);
    } else {
      try {
        await loadControls({ preset: url.preset || "hangzhou", base: url.base });
      } catch (err) {  // e.g. the URL's base run was deleted: say so, fall back to the preset
        if (!url.base) throw err;
        showError(`The page's base scenario ${url.base} is gone (${err.message}); showing preset ${url.preset || "hangzhou"}.`);
        await loadControls({ preset: url.preset || "hangzhou" });
        url.run = null;
      }
      applyOverrides(url.overrides, url.seed);
    }
    state.loadingUrl = false;
    const ended = url.job ? jobs.find((j) => j.id === url.job && !alive(j)) : null;
    if (!url.run && ended && ended.run_ids.length) url.run = ended.run_ids[0];
    if (job) attachRun(job);
    else if (url.run) {
      try {
        showStored(await api("/api/runs/" + encodeURIComponent(url.run)));
      } catch (err) {
        showError(`Run ${url.run}: ${err.message}`);
      }
    }
    const compare = [...jobs].reverse().find((j) => j.kind === "compare" && alive(j));
    if (compare) attachCompare(compare, compare.replications);
    const sweep = [...jobs].reverse().find((j) => j.kind === "sweep" && alive(j));
    if (sweep) attachSweep(sweep);
  } finally {
    state.loadingUrl = false;
  }
  setTab(url.tab || "plots");
  writeUrl();
}

async function init() {
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#333";
  wire();
  resetCharts([], [], {});
  try {
    await Promise.all([loadPresets(), loadGlossary()]);
    await restore();
    if (!state.job && !state.view.kind) setStatus("Ready — set the levers and press Run.", 0);
  } catch (err) {
    setStatus("Could not load the page's data from the server.", 0);
    showError(err.message);
  }
  refreshButtons();
  loadRuns();
  setInterval(checkHealth, HEALTH_EVERY_MS);
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", init);
