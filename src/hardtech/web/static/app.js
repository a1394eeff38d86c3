/* hardtech dashboard — plain JS, no build step. Talks to the REST API of `hardtech serve`.
 *
 * Controls come from GET /api/controls (generated from the scenario schema and a preset).
 * Run: POST /api/jobs/run, then the job's Server-Sent Events stream plots and dragons step by step.
 * Compare: POST /api/jobs/compare (A = current controls, B = a preset or a saved snapshot).
 * Past runs: GET /api/runs, GET /api/runs/{id}; downloads by run id.
 */
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token");
const REGION_COLOURS = {
  hangzhou: "#e4572e", shenzhen: "#17a2b8", beijing: "#8e44ad", shanghai: "#2e9e44",
  us_hub: "#1f5fbf", rest_of_world: "#8a8a8a",
};
const PALETTE = ["#e4572e", "#17a2b8", "#8e44ad", "#2e9e44", "#1f5fbf", "#8a8a8a", "#d4a017", "#c2185b", "#5d4037", "#00897b"];
const FIELD_PALETTE = ["#6a3d9a", "#ff7f00", "#33a02c", "#e31a1c", "#1f78b4", "#b15928", "#a6cee3", "#fb9a99"];

const state = {
  spec: null,          // GET /api/controls response
  values: {},          // key -> current value
  touched: new Set(),  // keys moved by the user
  job: null,           // current run job id
  source: null,        // EventSource of the run
  compareJob: null,
  compareSource: null,
  savedB: [],          // snapshots of controls for B
  charts: {},
  compareChart: null,
  regions: [],
  fields: [],
  dragonCount: 0,
  pendingRedraw: false,
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

function withToken(url) {
  if (!TOKEN) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (TOKEN) headers.Authorization = "Bearer " + TOKEN;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET", headers,
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
  if (a >= 1e4) return Math.round(x).toLocaleString("en-US");
  if (a >= 100) return x.toFixed(0);
  if (a >= 1 || a === 0) return x.toFixed(Math.min(digits, 2)).replace(/\.?0+$/, "") || "0";
  return x.toPrecision(digits).replace(/\.?0+$/, "");
}

function fmtCI(v) {
  if (!v) return "–";
  if (v.lo === v.hi) return fmt(v.mean);
  return `${fmt(v.mean)} [${fmt(v.lo)}, ${fmt(v.hi)}]`;
}

function colourOf(name, i) { return REGION_COLOURS[name] || PALETTE[i % PALETTE.length]; }

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

// -- controls --------------------------------------------------------------------------------------

async function loadPresets() {
  const presets = await api("/api/presets");
  const select = $("#preset");
  select.replaceChildren(...presets.map((p) => el("option", { value: p.name, text: p.name })));
  select.addEventListener("change", () => loadControls(select.value));
  fillCompareChoices(presets);
  state.presets = presets;
  await loadControls(select.value || (presets[0] && presets[0].name));
}

async function loadControls(preset) {
  const spec = await api("/api/controls?preset=" + encodeURIComponent(preset));
  state.spec = spec;
  $("#preset-desc").textContent = spec.description;
  const reps = $("#replications");
  reps.max = String(spec.limits.max_replications);
  $("#compare-reps").max = String(spec.limits.max_replications);
  buildControls(spec);
  resetControls();
  $("#run").disabled = false;
  $("#compare").disabled = false;
}

function controlTitle(c) {
  const parts = [c.description];
  if (c.minimum !== null || c.maximum !== null) {
    parts.push(`Range: ${c.exclusive_minimum ? ">" : "≥"} ${fmt(c.minimum)}, ${c.exclusive_maximum ? "<" : "≤"} ${fmt(c.maximum)}`);
  }
  if (c.default !== null && c.default !== undefined) parts.push(`Schema default: ${c.default}`);
  parts.push(`Key: ${c.key}`);
  return parts.join("\n");
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
  const row = el("div", { class: "control", dataset: { key: c.key }, title: controlTitle(c) });
  const label = el("label", { for: id, class: "control-label" }, c.label, c.unit ? el("span", { class: "unit", text: " " + c.unit }) : null);
  if (c.type === "boolean") {
    const box = el("input", { type: "checkbox", id, class: "switch", dataset: { key: c.key }, "aria-label": c.key });
    box.addEventListener("change", () => setValue(c, box.checked, true));
    row.classList.add("boolean");
    row.append(box, label);
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
    const lo = c.minimum !== null ? Number(c.minimum) : 0;
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
  row.append(line);
  if (c.schedule) row.append(el("div", { class: "schedule muted small" }));
  return row;
}

function roundTo(x, c) {
  if (c.type === "integer") return Math.round(x);
  return Number(x.toPrecision(4));
}

function presetValue(c) { return c.value; }

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
  const sched = row.querySelector(".schedule");
  if (sched) {
    sched.textContent = changed
      ? "constant (replaces the preset's schedule)"
      : "preset schedule: " + c.schedule.map(([y, v]) => `${y}: ${fmt(v)}`).join(", ");
  }
  updateChangedCount();
}

function isChanged(c) {
  if (!state.touched.has(c.key)) return false;
  if (c.schedule) return true;
  return state.values[c.key] !== presetValue(c);
}

function updateChangedCount() {
  const n = currentOverrideKeys().length;
  $("#changed-count").textContent = n ? `${n} change${n > 1 ? "s" : ""} from the preset (highlighted).` : "No changes from the preset.";
}

function currentOverrideKeys() {
  if (!state.spec) return [];
  return state.spec.controls.filter((c) => c.key !== "seed" && isChanged(c)).map((c) => c.key);
}

function resetControls() {
  state.touched.clear();
  for (const c of state.spec.controls) setValue(c, presetValue(c), false);
  document.querySelectorAll(".control.invalid").forEach((n) => n.classList.remove("invalid"));
  showError("");
}

/** The scenario the controls describe: {preset, overrides, seed}. */
function currentSpec(label) {
  const overrides = {};
  for (const key of currentOverrideKeys()) overrides[key] = state.values[key];
  const spec = { preset: state.spec.preset, overrides };
  const seedControl = state.spec.controls.find((c) => c.key === "seed");
  if (seedControl && state.values.seed !== seedControl.value) spec.seed = state.values.seed;
  if (label) spec.label = label;
  return spec;
}

function markInvalid(detail) {
  if (!Array.isArray(detail)) return;
  for (const d of detail) {
    const key = (d.loc || [])[(d.loc || []).length - 1];
    const row = document.querySelector(`.control[data-key="${CSS.escape(String(key))}"]`);
    if (row) {
      row.classList.add("invalid");
      const details = row.closest("details");
      if (details) details.open = true;
      row.scrollIntoView({ block: "nearest" });
    }
  }
}

// -- charts ----------------------------------------------------------------------------------------

const CHARTS = [
  { id: "dragons", of: "regions", key: "dragons", y: "dragons" },
  { id: "talent", of: "regions", key: "talent", y: "persons" },
  { id: "capital", of: "regions", key: "capital", y: "M USD" },
  { id: "gap", of: "regions", key: "gap", y: "log capability" },
  { id: "maturity", of: "fields", key: "maturity", y: "maturity" },
  { id: "demand", of: "fields", key: "demand", y: "M USD / quarter" },
];

function lineChart(canvas, names, labels, colours) {
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
        legend: { position: "bottom", labels: { boxWidth: 10, boxHeight: 2, font: { size: 10 }, padding: 6 } },
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${fmt(ctx.parsed.y)}` } },
      },
      scales: {
        x: { ticks: { maxTicksLimit: 7, font: { size: 10 }, maxRotation: 0 }, grid: { display: false } },
        y: { ticks: { font: { size: 10 }, callback: (v) => fmt(v) } },
      },
    },
  });
}

function resetCharts(regions, fields, fieldLabels) {
  state.regions = regions;
  state.fields = fields;
  for (const spec of CHARTS) {
    const names = spec.of === "regions" ? regions : fields;
    const labels = spec.of === "regions" ? regions : fields.map((f) => (fieldLabels && fieldLabels[f]) || f);
    const colours = spec.of === "regions" ? regions.map(colourOf) : fields.map((_, i) => FIELD_PALETTE[i % FIELD_PALETTE.length]);
    const canvas = document.getElementById("chart-" + spec.id);
    if (state.charts[spec.id]) state.charts[spec.id].destroy();
    state.charts[spec.id] = lineChart(canvas, names, labels, colours);
    canvas.dataset.points = "0";
  }
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
    const tr = el("tr", {},
      el("td", { class: "num", text: d.firm_id }),
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
    el("a", { href: withToken(base + "/scenario.toml"), download: `${runId}.toml`, class: "dl-toml", title: "The resolved scenario as TOML" }, "TOML"));
}

function renderRunSummary(result) {
  const head = $("#summary thead");
  const body = $("#summary tbody");
  const reps = result.replications;
  head.replaceChildren(el("tr", {}, ...["Region", reps > 1 ? "Dragons (mean, 95% CI)" : "Dragons", "Births", "Talent at end", "VC pool at end, M$", "Gap at end"]
    .map((t, i) => el("th", { class: i ? "num" : "", text: t }))));
  body.replaceChildren(...result.regions.map((r) => el("tr", {},
    el("td", {}, el("span", { class: "swatch", style: `background:${colourOf(r.region, state.regions.indexOf(r.region))}` }), r.region),
    el("td", { class: "num", text: reps > 1 && result.dragons_ci ? fmtCI(result.dragons_ci[r.region]) : fmt(r.dragons) }),
    el("td", { class: "num", text: fmt(r.births) }),
    el("td", { class: "num", text: fmt(r.talent_end) }),
    el("td", { class: "num", text: fmt(r.investor_capital_end) }),
    el("td", { class: "num", text: fmt(r.gap_to_frontier_end) }))));
  $("#summary-note").textContent = reps > 1 ? `means over ${reps} replications` : "replication 0";
}

function renderOutcomeSummary(outcomes, regions) {
  const head = $("#summary thead");
  const body = $("#summary tbody");
  head.replaceChildren(el("tr", {}, ...["Region", "Dragons", "Births", "Talent at end", "VC pool at end, M$", "Gap at end"]
    .map((t, i) => el("th", { class: i ? "num" : "", text: t }))));
  body.replaceChildren(...regions.map((r, i) => el("tr", {},
    el("td", {}, el("span", { class: "swatch", style: `background:${colourOf(r, i)}` }), r),
    ...["dragons", "births", "talent_end", "investor_capital_end", "gap_end"].map((m) => el("td", { class: "num", text: fmt(outcomes[`${m}_${r}`]) })))));
  $("#summary-note").textContent = "stored run";
}

// -- running -------------------------------------------------------------------------------------------

function closeSource(which) {
  if (state[which]) { state[which].close(); state[which] = null; }
}

async function startRun() {
  showError("");
  document.querySelectorAll(".control.invalid").forEach((n) => n.classList.remove("invalid"));
  const body = currentSpec();
  body.replications = Number($("#replications").value) || 1;
  let job;
  try {
    job = await api("/api/jobs/run", { method: "POST", body });
  } catch (err) {
    showError(err.message);
    markInvalid(err.detail);
    return;
  }
  closeSource("source");
  state.job = job.id;
  document.body.dataset.job = job.id;
  document.body.dataset.jobStatus = job.status;
  $("#run").disabled = true;
  $("#stop").disabled = false;
  $("#run-links").replaceChildren();
  clearDragons("replication 0, newest first");
  const sc = state.spec;
  resetCharts(sc.regions, sc.fields, sc.field_labels);
  setStatus(job.status === "queued" ? `Queued (#${job.queue_position})…` : "Starting…", 0);
  const source = new EventSource(withToken(job.events_url));
  state.source = source;
  let streamingRep = false;
  source.addEventListener("queued", () => {});
  source.addEventListener("started", (e) => { const d = JSON.parse(e.data); setStatus(`Running (${d.replications} replication${d.replications > 1 ? "s" : ""})…`, 0); });
  source.addEventListener("replication", (e) => {
    const d = JSON.parse(e.data);
    streamingRep = d.streaming;
    if (d.streaming) {
      resetCharts(d.regions, d.fields, d.field_labels);
      clearDragons("replication 0, newest first");
    }
  });
  source.addEventListener("step", (e) => {
    const d = JSON.parse(e.data);
    addStep(d);
    if (d.new_dragons) addDragons(d.new_dragons);
    setStatus(`Running — ${d.quarter} (replication ${d.replication + 1})`, d.done / d.total);
  });
  source.addEventListener("progress", (e) => {
    const d = JSON.parse(e.data);
    if (!streamingRep || d.replication > 0) setStatus(`Running — replication ${d.replication + 1}…`, d.done / d.total);
  });
  source.addEventListener("result", (e) => renderRunSummary(JSON.parse(e.data)));
  source.addEventListener("stored", (e) => {
    const d = JSON.parse(e.data);
    const links = $("#run-links");
    links.replaceChildren(el("span", { class: "muted", text: "Run " }), el("code", { text: d.run_ids[0] }), " ", downloadLinks(d.run_ids[0]));
  });
  source.addEventListener("end", (e) => {
    const d = JSON.parse(e.data);
    source.close();
    if (state.source === source) state.source = null;
    document.body.dataset.jobStatus = d.status;
    $("#run").disabled = false;
    $("#stop").disabled = true;
    if (d.status === "done") setStatus(`Done — ${state.dragonCount} dragon${state.dragonCount === 1 ? "" : "s"} in replication 0; stored as ${d.run_ids.length} run${d.run_ids.length > 1 ? "s" : ""}.`, 1);
    else if (d.status === "cancelled") setStatus("Stopped — nothing was stored.", undefined);
    else { setStatus("Failed.", undefined); showError(d.error || "the run failed"); }
    loadRuns();
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED && state.source === source) {
      setStatus("Lost the connection to the server.", undefined);
      $("#run").disabled = false;
      $("#stop").disabled = true;
    }
  };
}

async function stopJob(which) {
  const id = which === "compare" ? state.compareJob : state.job;
  if (!id) return;
  try {
    await api(`/api/jobs/${encodeURIComponent(id)}/cancel`, { method: "POST" });
  } catch (err) {
    showError(err.message);
  }
}

// -- compare -------------------------------------------------------------------------------------------

function fillCompareChoices(presets) {
  const select = $("#compare-b");
  const keep = select.value;
  const options = (presets || state.presets || []).map((p) => el("option", { value: "preset:" + p.name, text: `preset ${p.name} (its defaults)` }));
  state.savedB.forEach((snap, i) => options.push(el("option", { value: "saved:" + i, text: snap.label })));
  select.replaceChildren(...options);
  if (keep && [...select.options].some((o) => o.value === keep)) select.value = keep;
}

function saveB() {
  const spec = currentSpec();
  const n = Object.keys(spec.overrides).length;
  const label = `B${state.savedB.length + 1}: ${spec.preset}` + (n ? ` with ${n} change${n > 1 ? "s" : ""}` : " (as preset)");
  spec.label = label;
  state.savedB.push(spec);
  fillCompareChoices();
  $("#compare-b").value = "saved:" + (state.savedB.length - 1);
  $("#compare-status").textContent = `Saved the current controls as “${label}”.`;
}

function specB() {
  const v = $("#compare-b").value || "";
  if (v.startsWith("saved:")) return Object.assign({}, state.savedB[Number(v.slice(6))]);
  const name = v.startsWith("preset:") ? v.slice(7) : state.spec.preset;
  const b = { preset: name, overrides: {}, label: `B: ${name} (preset)` };
  // same scale and horizon as A so the comparison is about the levers, not the resolution
  const a = currentSpec();
  for (const key of ["scale", "time.end_year"]) if (key in a.overrides) b.overrides[key] = a.overrides[key];
  if (a.seed !== undefined) b.seed = a.seed;
  return b;
}

async function startCompare() {
  showError("");
  const a = currentSpec();
  const n = Object.keys(a.overrides).length;
  a.label = `A: ${a.preset}` + (n ? ` with ${n} change${n > 1 ? "s" : ""}` : " (as preset)");
  const body = { a, b: specB(), replications: Number($("#compare-reps").value) || 1 };
  let job;
  try {
    job = await api("/api/jobs/compare", { method: "POST", body });
  } catch (err) {
    showError(err.message);
    markInvalid(err.detail);
    return;
  }
  closeSource("compareSource");
  state.compareJob = job.id;
  document.body.dataset.compareStatus = job.status;
  $("#compare").disabled = true;
  $("#compare-stop").disabled = false;
  const status = $("#compare-status");
  status.textContent = job.status === "queued" ? `Queued (#${job.queue_position})…` : "Running…";
  const source = new EventSource(withToken(job.events_url));
  state.compareSource = source;
  source.addEventListener("started", () => { status.textContent = "Running…"; });
  source.addEventListener("progress", (e) => {
    const d = JSON.parse(e.data);
    status.textContent = `Running — ${d.side ? "B" : "A"}, replication ${d.replication + 1} of ${body.replications} (${Math.round(100 * d.done / d.total)}%)`;
  });
  source.addEventListener("result", (e) => renderCompare(JSON.parse(e.data)));
  source.addEventListener("end", (e) => {
    const d = JSON.parse(e.data);
    source.close();
    if (state.compareSource === source) state.compareSource = null;
    document.body.dataset.compareStatus = d.status;
    $("#compare").disabled = false;
    $("#compare-stop").disabled = true;
    if (d.status === "done") status.textContent = `Done — ${body.replications} replication${body.replications > 1 ? "s" : ""} of each.`;
    else if (d.status === "cancelled") status.textContent = "Stopped.";
    else { status.textContent = "Failed."; showError(d.error || "the comparison failed"); }
    loadRuns();
  });
}

const errorBarPlugin = {
  id: "errorBars",
  afterDatasetsDraw(chart) {
    const { ctx, chartArea } = chart;
    const y = chart.scales.y;
    ctx.save();
    ctx.beginPath();
    ctx.rect(chartArea.left, chartArea.top, chartArea.right - chartArea.left, chartArea.bottom - chartArea.top);
    ctx.clip();  // counts are ≥ 0: whiskers of tiny samples may reach below the axis
    chart.data.datasets.forEach((ds, di) => {
      const meta = chart.getDatasetMeta(di);
      if (meta.hidden || !ds.intervals) return;
      meta.data.forEach((bar, i) => {
        const iv = ds.intervals[i];
        if (!iv || iv.lo === iv.hi) return;
        const top = y.getPixelForValue(iv.hi);
        const bottom = y.getPixelForValue(iv.lo);
        const half = Math.min(6, bar.width / 4);
        ctx.save();
        ctx.strokeStyle = "#222";
        ctx.lineWidth = 1.2;
        ctx.beginPath();
        ctx.moveTo(bar.x, top); ctx.lineTo(bar.x, bottom);
        ctx.moveTo(bar.x - half, top); ctx.lineTo(bar.x + half, top);
        ctx.moveTo(bar.x - half, bottom); ctx.lineTo(bar.x + half, bottom);
        ctx.stroke();
        ctx.restore();
      });
    });
    ctx.restore();
  },
};

function renderCompare(result) {
  const regions = result.regions;
  const colours = ["#e4572e", "#1f5fbf"];
  const datasets = result.sides.map((side, i) => ({
    label: side.label,
    data: regions.map((r) => (side.dragons_by_region[r] ? side.dragons_by_region[r].mean : null)),
    intervals: regions.map((r) => side.dragons_by_region[r]),
    backgroundColor: colours[i] + "cc", borderColor: colours[i], borderWidth: 1,
  }));
  const canvas = $("#chart-compare");
  if (state.compareChart) state.compareChart.destroy();
  state.compareChart = new Chart(canvas, {
    type: "bar",
    data: { labels: regions, datasets },
    plugins: [errorBarPlugin],
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      plugins: {
        legend: { position: "bottom", labels: { font: { size: 11 } } },
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${fmtCI(ctx.dataset.intervals[ctx.dataIndex])}` } },
      },
      scales: {
        y: {
          beginAtZero: true, title: { display: true, text: "dragons" },
          suggestedMax: Math.max(1, ...datasets.flatMap((d) => d.intervals.map((iv) => (iv ? iv.hi : 0)))),
        },
      },
    },
  });
  canvas.dataset.bars = String(datasets.reduce((n, d) => n + d.data.filter((v) => v !== null).length, 0));
  const head = $("#compare-table thead");
  const body = $("#compare-table tbody");
  head.replaceChildren(el("tr", {}, el("th", { text: "Outcome (mean [95% CI])" }), ...result.sides.map((s) => el("th", { class: "num", text: s.label }))));
  const rows = [];
  for (const r of regions) {
    rows.push(el("tr", {}, el("td", {}, el("span", { class: "swatch", style: `background:${colourOf(r, regions.indexOf(r))}` }), `dragons — ${r}`),
      ...result.sides.map((s) => el("td", { class: "num", text: fmtCI(s.dragons_by_region[r]) }))));
  }
  for (const [name, doc] of Object.entries(result.outcome_docs)) {
    rows.push(el("tr", { title: doc }, el("td", { text: name.replace(/_/g, " ") }),
      ...result.sides.map((s) => el("td", { class: "num", text: fmtCI(s.outcomes[name]) }))));
  }
  body.replaceChildren(...rows);
}

// -- past runs -------------------------------------------------------------------------------------------

async function loadRuns() {
  let data;
  try {
    data = await api("/api/runs");
  } catch (err) {
    $("#runs-note").textContent = err.message;
    return;
  }
  const body = $("#runs tbody");
  body.replaceChildren(...data.runs.map((r) => el("tr", { dataset: { run: r.run_id } },
    el("td", {}, el("code", { text: r.run_id })),
    el("td", { text: r.scenario_name || "" }),
    el("td", { class: "num", text: r.seed ?? "" }),
    el("td", { class: "num", text: r.replication ?? "" }),
    el("td", { class: "num", text: r.scale ?? "" }),
    el("td", { class: "num", text: r.steps ?? "" }),
    el("td", { text: (r.started_at || "").replace("T", " ").replace("+00:00", "") }),
    el("td", { class: "num", text: r.dragons ?? "" }),
    el("td", { class: "muted", text: r.store }),
    el("td", { class: "actions" }, el("button", { type: "button", class: "open-run", onclick: () => openRun(r.run_id) }, "Open"), " ", downloadLinks(r.run_id)))));
  const note = `${data.runs.length} run${data.runs.length === 1 ? "" : "s"}`;
  $("#runs-note").textContent = data.unavailable.length ? `${note}; busy: ${data.unavailable.join(", ")}` : note;
}

async function openRun(runId) {
  showError("");
  let detail;
  try {
    detail = await api("/api/runs/" + encodeURIComponent(runId));
  } catch (err) {
    showError(err.message);
    return;
  }
  closeSource("source");
  resetCharts(detail.regions, detail.fields, detail.field_labels);
  for (const step of detail.steps) addStep(step);
  clearDragons("stored run, newest first");
  addDragons(detail.dragons);
  renderOutcomeSummary(detail.outcomes, detail.regions);
  setStatus(`Viewing stored run ${runId} (${detail.run.scenario_name}, seed ${detail.run.seed}, replication ${detail.run.replication}).`, 1);
  $("#run-links").replaceChildren(el("code", { text: runId }), " ", downloadLinks(runId));
  document.body.dataset.opened = runId;
  window.scrollTo({ top: 0, behavior: "instant" });
}

// -- wiring ------------------------------------------------------------------------------------------------

function wire() {
  $("#run").addEventListener("click", startRun);
  $("#stop").addEventListener("click", () => stopJob("run"));
  $("#reset").addEventListener("click", resetControls);
  $("#compare").addEventListener("click", startCompare);
  $("#compare-stop").addEventListener("click", () => stopJob("compare"));
  $("#save-b").addEventListener("click", saveB);
  $("#refresh-runs").addEventListener("click", loadRuns);
  window.addEventListener("beforeunload", () => { closeSource("source"); closeSource("compareSource"); });
}

async function init() {
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#333";
  wire();
  resetCharts([], [], {});
  try {
    await loadPresets();
    setStatus("Ready — set the levers and press Run.", 0);
  } catch (err) {
    setStatus("Could not load the presets.", 0);
    showError(err.message);
  }
  loadRuns();
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", init);
