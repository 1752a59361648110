// costmodel ui: the form is the state, the state is the query string, the server computes.
"use strict";
const $ = (id) => document.getElementById(id);
const KEYS = ["model", "hardware", "bw", "compute", "mem", "visual_tokens", "images",
  "image_size", "video_frames", "text_tokens", "output_tokens", "batch", "dtype", "weight_dtype", "kv_dtype",
  "engine", "ep", "keep", "at", "method"];
const STAGE_COLOR = { vision: "#1f77b4", projector: "#9467bd", prefill: "#ff7f0e", decode: "#2ca02c" };
let catalog = null, seq = 0, timer = null, lastSweep = null;

function el(tag, attrs = {}, text = "") {
  const ns = ["svg", "line", "polyline", "circle", "text", "path", "rect"].includes(tag)
    ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml";
  const e = document.createElementNS(ns, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== "") e.textContent = text;
  return e;
}

function option(select, value, label) { select.append(el("option", { value }, label ?? value)); }

function fillSelects() {
  const groups = {};
  for (const m of catalog.models) (groups[m.family] ??= []).push(m);
  for (const [family, models] of Object.entries(groups)) {
    const g = el("optgroup", { label: family });
    for (const m of models) option(g, m.id, `${m.id} (${m.kind})`);
    $("model").append(g);
  }
  for (const h of catalog.hardware) option($("hardware"), h.id, `${h.id}: ${h.name}`);
  for (const d of catalog.dtypes) for (const id of ["dtype", "weight_dtype", "kv_dtype"]) option($(id), d);
  for (const e of catalog.engines) option($("engine"), e);
}

function setForm(s) {
  if (s.model && ![...$("model").options].some((o) => o.value === s.model)) option($("model"), s.model);
  for (const k of KEYS) if (k !== "at" && $(k)) $(k).value = s[k] ?? "";
  const [where, layer] = (s.at || "projector").split(":");
  $("at_where").value = ["projector", "llm-layer", "vit"].includes(where) ? where : "projector";
  if (layer) $("at_layer").value = layer;
  $("at_layer").disabled = $("at_where").value !== "llm-layer";
  if (s.visual_tokens) $("visual_tokens_range").value = s.visual_tokens;
}

function state() {
  const s = {};
  for (const k of KEYS) if (k !== "at") s[k] = $(k).value.trim();
  const where = $("at_where").value;
  s.at = where === "llm-layer" ? `llm-layer:${$("at_layer").value.trim()}` : where;
  return s;
}

function clearErrors() {
  for (const e of document.querySelectorAll(".err")) e.textContent = "";
  for (const e of document.querySelectorAll(".bad")) e.classList.remove("bad");
}

function showErrors(errors) {
  for (const [field, line] of Object.entries(errors)) {
    const box = $(`err-${field}`) || $("err-general");
    box.textContent = line;
    const input = field === "at" ? $("at_where") : $(field);
    if (input) input.classList.add("bad");
  }
}

async function update() {
  const s = state(), q = new URLSearchParams(s).toString(), my = ++seq;
  history.replaceState(null, "", `?${q}`);
  for (const [id, path] of [["dl-json", "export.json"], ["dl-csv", "export.csv"], ["svg-roofline", "roofline.svg"]])
    $(id).href = `/api/${path}?${q}`;
  $("permalink").href = `${location.pathname}?${q}`;
  document.body.dataset.status = "loading";
  const doc = await (await fetch(`/api/view?${q}`)).json();
  if (my !== seq) return;
  clearErrors();
  $("commands").textContent = [doc.commands?.estimate, doc.commands?.compare].filter(Boolean).join("\n");
  if (Object.keys(doc.errors || {}).length) {
    showErrors(doc.errors);
    $("results").classList.add("stale");
  } else {
    $("results").classList.remove("stale");
    render(doc);
    const sw = await (await fetch(`/api/sweep?${q}`)).json();
    if (my !== seq) return;
    lastSweep = sw.sweep;
    drawSweep();
    if (sw.sweep?.command) $("commands").textContent += `\n${sw.sweep.command}`;
  }
  document.body.dataset.query = q;
  document.body.dataset.status = Object.keys(doc.errors || {}).length ? "error" : "ready";
}

function schedule(delay) { clearTimeout(timer); timer = setTimeout(update, delay); }

function setValue(id, text, value) {
  $(id).textContent = text ?? "";
  if (value === undefined || value === null) delete $(id).dataset.value;
  else $(id).dataset.value = String(value);
}

function render(doc) {
  const d = doc.display, b = doc.baseline, c = doc.compressed;
  $("header").textContent = doc.header;
  const pairs = [["ttft", "ttft_s"], ["tpot", "tpot_s"], ["e2e", "e2e_latency_s"]];
  for (const [k, key] of pairs) {
    setValue(`${k}-base`, d.summary[k], b[key]);
    setValue(`b${k}-base`, d.summary[`bound_${k}`], b.bound[key]);
    setValue(`${k}-comp`, c ? d.compressed_summary[k] : "", c ? c[key] : null);
    setValue(`b${k}-comp`, c ? d.compressed_summary[`bound_${k}`] : "", c ? c.bound[key] : null);
  }
  $("memory-base").textContent = d.summary.memory;
  $("fits-base").textContent = d.summary.fits;
  $("memory-comp-line").hidden = !c;
  $("memory-comp").textContent = c ? d.compressed_summary.memory : "";
  $("fits-comp").textContent = c ? d.compressed_summary.fits : "";
  $("warnings").replaceChildren(...doc.warnings.map((w) => el("li", {}, w)));
  stageTable($("stages-base"), d.stages);
  stageTable($("stages-comp"), d.compressed_stages || []);
  $("comp-title").textContent = c ? `Compressed (${doc.compression}), by stage` : "No compression (keep is empty)";
  savingsTable(d.savings || []);
  drawRoofline(doc.roofline);
}

function table(node, header, rows, classes = () => "") {
  const head = el("tr");
  for (const h of header) head.append(el("th", {}, h));
  const body = rows.map((r, i) => {
    const tr = el("tr");
    r.forEach((cell, j) => tr.append(el("td", { class: classes(i, j) }, cell)));
    return tr;
  });
  node.replaceChildren(head, ...body);
}

function stageTable(node, stages) {
  table(node, ["stage", "FLOPs", "bytes", "FLOP/B", "bound", "expected", "compute-bound"],
    stages.map((s) => [s.label, s.flops, s.bytes, s.intensity, s.bound, s.expected, s.compute]));
}

function savingsTable(rows) {
  table($("savings"), ["quantity", "stage", "baseline", "compressed", "savings"],
    rows.map((r) => [r.metric, r.stage, r.baseline, r.compressed, r.savings]),
    (i, j) => (j === 4 && rows[i].savings !== "-" && !rows[i].savings.startsWith("-") ? "saved" : ""));
}

// ---------------------------------------------------------------- charts (inline SVG)
const W = 480, H = 320, PAD = { l: 56, r: 12, t: 12, b: 36 };

function axes(svg, xs, ys, xlabel, ylabel, ticksX, ticksY) {
  svg.replaceChildren();
  svg.append(el("line", { x1: PAD.l, y1: H - PAD.b, x2: W - PAD.r, y2: H - PAD.b, stroke: "#999" }));
  svg.append(el("line", { x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: H - PAD.b, stroke: "#999" }));
  for (const [v, label] of ticksX) svg.append(el("text", { x: xs(v), y: H - PAD.b + 14, "text-anchor": "middle" }, label));
  for (const [v, label] of ticksY) svg.append(el("text", { x: PAD.l - 4, y: ys(v) + 4, "text-anchor": "end" }, label));
  svg.append(el("text", { x: (PAD.l + W - PAD.r) / 2, y: H - 4, "text-anchor": "middle" }, xlabel));
  svg.append(el("text", { x: 12, y: PAD.t + 4, transform: `rotate(-90 12 ${PAD.t + 4})`, "text-anchor": "end" }, ylabel));
}

function logScale(lo, hi, a, b) { return (v) => a + (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) * (b - a); }
function linScale(lo, hi, a, b) { return (v) => a + (v - lo) / ((hi - lo) || 1) * (b - a); }
function decades(lo, hi, fmt) {
  const out = [];
  for (let e = Math.ceil(Math.log10(lo)); e <= Math.floor(Math.log10(hi)); e++) out.push([10 ** e, fmt(10 ** e)]);
  return out;
}

function drawRoofline(r) {
  const base = r.baseline, peak = base.peak_flops_per_s, bw = base.bandwidth_Bps, ridge = peak / bw;
  const pts = [...base.points.map((p) => ({ ...p, comp: false })), ...(r.compressed?.points || []).map((p) => ({ ...p, comp: true }))];
  const xlo = Math.min(ridge, ...pts.map((p) => p.intensity)) / 3, xhi = Math.max(ridge, ...pts.map((p) => p.intensity)) * 5;
  const ylo = Math.min(bw * xlo, ...pts.map((p) => p.flops_per_s).filter((v) => v > 0)) / 2, yhi = peak * 2;
  const xs = logScale(xlo, xhi, PAD.l, W - PAD.r), ys = logScale(ylo, yhi, H - PAD.b, PAD.t);
  const svg = $("roofline");
  axes(svg, xs, ys, "FLOP per byte", "FLOP/s", decades(xlo, xhi, (v) => String(v)), decades(ylo, yhi, (v) => `${v / 1e12}T`));
  const roof = [xlo, ridge, xhi].map((x) => `${xs(x)},${ys(Math.min(peak, bw * x))}`).join(" ");
  svg.append(el("polyline", { points: roof, fill: "none", stroke: "#222", "stroke-width": 1.5 }));
  for (const p of pts) {
    const color = STAGE_COLOR[p.stage];
    svg.append(el("circle", { cx: xs(p.intensity), cy: ys(p.flops_per_s), r: 5, stroke: color,
      fill: p.comp ? "none" : color, "stroke-width": 2 }));
    if (!p.comp) svg.append(el("text", { x: xs(p.intensity) + 7, y: ys(p.flops_per_s) - 6 }, p.stage));
  }
  svg.append(el("text", { x: W - PAD.r, y: PAD.t + 10, "text-anchor": "end" }, "filled: baseline, ring: compressed (expected latency)"));
}

function drawSweep() {
  const svg = $("sweep"), sw = lastSweep, metric = $("sweep-metric").value;
  if (!sw) { svg.replaceChildren(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no vision tower: no token sweep")); return; }
  const mem = metric === "total_memory_bytes", scale = mem ? 1e-9 : 1e3, unit = mem ? "GB" : "ms";
  const lines = [[sw.baseline[metric], "#2357c6", ""], [sw.baseline[`bound_${metric}`], "#2357c6", "4 3"],
    [sw.compressed?.[metric], "#c45a12", ""], [sw.compressed?.[`bound_${metric}`], "#c45a12", "4 3"]].filter((l) => l[0]);
  const x = sw.baseline.visual_tokens, ymax = Math.max(...lines.flatMap((l) => l[0])) * scale * 1.08;
  const xs = linScale(0, x[x.length - 1], PAD.l, W - PAD.r), ys = linScale(0, ymax, H - PAD.b, PAD.t);
  const ticks = (hi, round) => [0, 0.25, 0.5, 0.75, 1].map((f) => [f * hi, String(round ? Math.round(f * hi) : Number((f * hi).toPrecision(3)))]);
  axes(svg, xs, ys, "visual tokens", `${$("sweep-metric").selectedOptions[0].text} (${unit})`, ticks(x[x.length - 1], true), ticks(ymax, false));
  for (const [ys_, color, dash] of lines)
    svg.append(el("polyline", { points: ys_.map((v, i) => `${xs(x[i])},${ys(v * scale)}`).join(" "), fill: "none", stroke: color, "stroke-width": 1.8, "stroke-dasharray": dash }));
  svg.append(el("line", { x1: xs(sw.point), x2: xs(sw.point), y1: PAD.t, y2: H - PAD.b, stroke: "#888", "stroke-dasharray": "2 3" }));
  svg.append(el("text", { x: W - PAD.r, y: PAD.t + 10, "text-anchor": "end" }, "blue: baseline, orange: compressed, dashed: bound"));
}

async function upload(file) {
  clearErrors();
  if (file.size > catalog.max_upload_bytes) {
    showErrors({ model: `${file.name}: ${file.size} bytes; a config.json is at most ${catalog.max_upload_bytes / 1024} KiB` });
    return;
  }
  const r = await fetch(`/api/upload?filename=${encodeURIComponent(file.name)}`, { method: "POST", body: file });
  const doc = await r.json();
  if (!r.ok) { showErrors(doc.errors); return; }
  option($("model"), doc.id, `${doc.name} (uploaded)`);
  $("model").value = doc.id;
  update();
}

async function init() {
  catalog = await (await fetch("/api/catalog")).json();
  fillSelects();
  setForm({ ...catalog.defaults, ...Object.fromEntries(new URLSearchParams(location.search)) });
  $("form").addEventListener("change", (e) => {
    if (e.target.id === "upload") return upload(e.target.files[0]);
    $("at_layer").disabled = $("at_where").value !== "llm-layer";
    if (e.target.id === "visual_tokens_range") $("visual_tokens").value = e.target.value;
    schedule(0);
  });
  $("form").addEventListener("input", (e) => {
    if (e.target.id === "visual_tokens_range") $("visual_tokens").value = e.target.value;
    if (e.target.tagName === "INPUT" && e.target.type !== "file") schedule(150);
  });
  $("sweep-metric").addEventListener("change", drawSweep);
  update();
}

document.addEventListener("DOMContentLoaded", init);
