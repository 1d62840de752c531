// The page of `mnistmlp serve`: the server trains and predicts; this script only asks and draws.
"use strict";

const COLORS = ["#2f6fde", "#e8590c", "#12b76a", "#c11574", "#7a5af8", "#0e9384", "#b54708", "#475467"];
const $ = (id) => document.getElementById(id);
const runs = new Map();  // id -> {summary, color, visible, moving, batch, validation, end, error, source}
let config = null;
let selectedRun = null;  // whose confusion matrix shows

// -- talking to the server -------------------------------------------------------------------

async function api(path, body) {
  const options = body === undefined ? {} :
    {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(path, options);
  const value = await response.json();
  if (!response.ok) throw new Error(value.error || `${response.status} ${response.statusText}`);
  return value;
}

function say(text, isError) {
  const message = $("message");
  message.textContent = text;
  message.className = isError ? "error" : "";
}

// -- training and comparing ------------------------------------------------------------------

function formFields() {
  const hidden = $("hidden").value.trim().split(/[\s,×x]+/).filter(Boolean).map(Number);
  return {
    hidden, activation: $("activation").value, optimizer: $("optimizer").value,
    learning_rate: Number($("learning_rate").value), batch_size: Number($("batch_size").value),
    epochs: Number($("epochs").value), seed: Number($("seed").value),
  };
}

function fillForm(preset) {
  $("hidden").value = preset.hidden.join(" ");
  for (const name of ["activation", "optimizer", "learning_rate", "batch_size", "epochs"]) $(name).value = preset[name];
}

async function startRun(fields) {
  try {
    const summary = await api("/api/runs", fields);
    follow(summary);
    say(`Run ${summary.id} (${summary.label}) started.`);
  } catch (error) {
    say(error.message, true);
  }
}

function follow(summary) {
  const run = {summary, color: COLORS[(Number(summary.id) - 1) % COLORS.length], visible: true,
               moving: [], batch: [], validation: [], end: null, error: null};
  runs.set(summary.id, run);
  // A stream that has ended would be opened again by the browser: close it at its last event.
  const source = new EventSource(`/api/runs/${summary.id}/events`);
  const n = summary.train_samples;
  source.addEventListener("start", (e) => { run.summary = JSON.parse(e.data); changed(run); });
  source.addEventListener("progress", (e) => {
    const p = JSON.parse(e.data);
    run.moving.push([p.samples / n, p.accuracy_average]);
    changed(run);
  });
  source.addEventListener("epoch", (e) => {
    const p = JSON.parse(e.data);
    p.batch_curve.samples.forEach((s, i) => run.batch.push([s / n, p.batch_curve.accuracy[i]]));
    // The epoch's own figure replaces a progress report made at the same point.
    if (run.moving.length && run.moving[run.moving.length - 1][0] >= p.samples / n) run.moving.pop();
    run.moving.push([p.samples / n, p.accuracy_moving_average]);
    run.validation.push([p.samples / n, p.val_accuracy]);
    changed(run);
  });
  source.addEventListener("end", (e) => {
    source.close();
    run.end = JSON.parse(e.data);
    selectedRun = run.summary.id;
    changed(run, true);
  });
  source.addEventListener("failed", (e) => {
    source.close();
    run.error = JSON.parse(e.data).message;
    changed(run, true);
  });
  refreshModels(summary.id);
}

let drawPending = false;
function changed(run, ended) {
  if (ended) {
    run.summary.state = run.error ? "failed" : run.end.state;
    if ($("model").value === run.summary.id) showModel();
  }
  if (!drawPending) {
    drawPending = true;
    requestAnimationFrame(() => { drawPending = false; drawChart(); drawTable(); });
  }
}

function curveEnd(run) {
  const last = (points) => (points.length ? points[points.length - 1][0] : 0);
  return Math.max(last(run.moving), last(run.batch));
}

function drawTable() {
  const body = $("runs").tBodies[0];
  body.textContent = "";
  for (const run of runs.values()) {
    const s = run.summary;
    const state = run.error ? "failed" : run.end ? run.end.state : "training";
    const row = body.insertRow();
    row.dataset.runId = s.id;
    row.dataset.state = state;
    row.dataset.curveEnd = curveEnd(run).toFixed(4);
    row.className = run.visible ? "" : "hidden-run";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = run.color;
    swatch.title = "show or hide on the chart";
    swatch.onclick = () => { run.visible = !run.visible; changed(run); };
    row.insertCell().append(swatch);
    row.insertCell().textContent = s.id;
    row.insertCell().textContent = `${s.label}, lr ${s.learning_rate}, batch ${s.batch_size}, ${s.epochs} epoch${s.epochs > 1 ? "s" : ""}`;
    row.insertCell().textContent = run.error ? `failed: ${run.error}` : state;
    row.insertCell().textContent = `${Math.min(100, (100 * curveEnd(run) / s.epochs)).toFixed(0)}%`;
    const validation = run.validation.length ? run.validation[run.validation.length - 1][1] : null;
    row.insertCell().textContent = validation === null ? "" : `${(100 * validation).toFixed(1)}%`;
    const test = row.insertCell();
    test.className = "test-accuracy";
    test.textContent = run.end ? `${(100 * run.end.test_accuracy).toFixed(2)}%` : "";
    const actions = row.insertCell();
    if (!run.end && !run.error) actions.append(button("Stop", () => api(`/api/runs/${s.id}/stop`, {}).catch((e) => say(e.message, true))));
    if (run.end) actions.append(button("Confusion", () => { selectedRun = s.id; drawConfusion(); }));
    const download = document.createElement("a");
    download.href = `/api/models/${s.id}/file`;
    download.textContent = "Download";
    download.setAttribute("download", "");
    actions.append(" ", download);
  }
  drawConfusion();
}

function button(text, onclick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.onclick = onclick;
  return b;
}

function drawConfusion() {
  const box = $("confusion");
  box.textContent = "";
  const run = runs.get(selectedRun);
  if (!run || !run.end) return;
  const title = document.createElement("p"), table = document.createElement("table");
  title.textContent =
    `Run ${run.summary.id}, ${run.summary.label}: test accuracy ${(100 * run.end.test_accuracy).toFixed(2)}% ` +
    `(confusion matrix: rows the true digit, columns the predicted one)`;
  const head = table.insertRow();
  head.append(document.createElement("th"));
  for (let c = 0; c < 10; c++) { const th = document.createElement("th"); th.textContent = c; head.append(th); }
  const largest = Math.max(...run.end.confusion.flat());
  run.end.confusion.forEach((counts, t) => {
    const row = table.insertRow();
    const th = document.createElement("th");
    th.textContent = t;
    row.append(th);
    counts.forEach((count, p) => {
      const cell = row.insertCell();
      cell.textContent = count;
      const shade = count / largest;
      cell.style.background = p === t ? `rgba(18,183,106,${0.15 + 0.6 * shade})` : count ? `rgba(232,89,12,${0.1 + 0.9 * shade})` : "";
    });
  });
  box.append(title, table);
}

function drawChart() {
  const canvas = $("chart");
  const g = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, left = 48, right = 16, top = 14, bottom = 34;
  const visible = [...runs.values()].filter((run) => run.visible);
  const epochs = Math.max(1, ...visible.map((run) => run.summary.epochs));
  const x = (e) => left + (W - left - right) * e / epochs;
  const y = (a) => top + (H - top - bottom) * (1 - a);
  g.clearRect(0, 0, W, H);
  g.font = "12px system-ui, sans-serif";
  g.fillStyle = "#667085";
  g.strokeStyle = "#e4e7ec";
  g.lineWidth = 1;
  for (let a = 0; a <= 1.0001; a += 0.1) {
    g.beginPath(); g.moveTo(left, y(a)); g.lineTo(W - right, y(a)); g.stroke();
    g.textAlign = "right"; g.fillText(`${Math.round(a * 100)}%`, left - 6, y(a) + 4);
  }
  const step = epochs <= 10 ? (epochs <= 2 ? 0.25 : 1) : Math.ceil(epochs / 10);
  g.textAlign = "center";
  for (let e = 0; e <= epochs + 1e-9; e += step) g.fillText(`${+e.toFixed(2)}`, x(e), H - bottom + 16);
  g.fillText("epochs trained", left + (W - left - right) / 2, H - 4);
  for (const run of visible) {
    line(g, run.batch, x, y, run.color, 1, 0.3);
    line(g, run.moving, x, y, run.color, 2.2, 1);
    g.fillStyle = run.color;
    for (const [e, a] of run.validation) { g.beginPath(); g.arc(x(e), y(a), 4.5, 0, 2 * Math.PI); g.fill(); }
    const last = run.moving[run.moving.length - 1];
    if (last) { g.textAlign = "left"; g.fillText(run.summary.label, Math.min(x(last[0]) + 6, W - 120), y(last[1]) - 6); }
  }
}

function line(g, points, x, y, color, width, alpha) {
  if (points.length === 0) return;
  g.save();
  g.globalAlpha = alpha;
  g.strokeStyle = color;
  g.lineWidth = width;
  g.beginPath();
  points.forEach(([e, a], i) => (i ? g.lineTo(x(e), y(a)) : g.moveTo(x(e), y(a))));
  g.stroke();
  g.restore();
}

// -- drawing a digit -------------------------------------------------------------------------

const SENT_SIDE = 140;  // the pad's pixels halved: plenty for a 20×20 digit, a quarter to send
let predicting = false, predictAgain = false;

function setUpPad() {
  const pad = $("pad"), g = pad.getContext("2d");
  let last = null;
  const clear = () => { g.fillStyle = "#000"; g.fillRect(0, 0, pad.width, pad.height); showPrediction(null); };
  const at = (e) => {
    const box = pad.getBoundingClientRect();
    return [(e.clientX - box.left) * pad.width / box.width, (e.clientY - box.top) * pad.height / box.height];
  };
  const stroke = (from, to) => {
    g.strokeStyle = "#fff"; g.lineWidth = 20; g.lineCap = "round"; g.lineJoin = "round";
    g.beginPath(); g.moveTo(...from); g.lineTo(...to); g.stroke();
    predict();
  };
  pad.addEventListener("pointerdown", (e) => { pad.setPointerCapture(e.pointerId); last = at(e); stroke(last, last); });
  pad.addEventListener("pointermove", (e) => { if (last) { const p = at(e); stroke(last, p); last = p; } });
  for (const end of ["pointerup", "pointercancel"]) pad.addEventListener(end, () => { last = null; });
  $("clear").onclick = clear;
  clear();
}

function padPixels() {
  const small = document.createElement("canvas");
  small.width = small.height = SENT_SIDE;
  const g = small.getContext("2d");
  g.drawImage($("pad"), 0, 0, SENT_SIDE, SENT_SIDE);
  const rgba = g.getImageData(0, 0, SENT_SIDE, SENT_SIDE).data;
  let text = "";
  for (let i = 0; i < rgba.length; i += 4) text += String.fromCharCode(rgba[i]);
  return btoa(text);
}

// One request at a time; strokes made meanwhile are sent together once it answers.
async function predict() {
  const model = $("model").value;
  if (!model) return;
  if (predicting) { predictAgain = true; return; }
  predicting = true;
  try {
    const result = await api(`/api/models/${model}/predict`, {width: SENT_SIDE, height: SENT_SIDE, pixels: padPixels()});
    showPrediction(result);
  } catch (error) {
    say(error.message, true);
  } finally {
    predicting = false;
    if (predictAgain) { predictAgain = false; predict(); }
  }
}

function showPrediction(result) {
  const bars = $("bars");
  bars.textContent = "";
  const probabilities = result ? result.probabilities : new Array(10).fill(0);
  const inked = result && result.image.some((v) => v > 0);
  const top = inked ? probabilities.indexOf(Math.max(...probabilities)) : null;
  probabilities.forEach((p, digit) => {
    const label = document.createElement("span"), bar = document.createElement("div"), value = document.createElement("span");
    label.textContent = digit;
    bar.className = "bar";
    bar.append(document.createElement("div"));
    bar.firstChild.style.width = `${(100 * p).toFixed(1)}%`;
    value.textContent = inked ? `${(100 * p).toFixed(1)}%` : "";
    for (const cell of [label, bar, value]) { cell.dataset.digit = digit; if (digit === top) cell.classList.add("top"); bars.append(cell); }
  });
  $("top-class").textContent = top === null ? "" : top;
  bars.dataset.top = top === null ? "" : top;
  paintDigit($("seen"), result ? result.image : new Array(784).fill(0));
}

function paintDigit(canvas, pixels) {
  const tiny = new ImageData(28, 28);
  pixels.forEach((v, i) => { tiny.data.set([v, v, v, 255], 4 * i); });
  paintImage(canvas, tiny);
}

function paintImage(canvas, image) {
  const g = canvas.getContext("2d");
  const buffer = document.createElement("canvas");
  buffer.width = image.width; buffer.height = image.height;
  buffer.getContext("2d").putImageData(image, 0, 0);
  g.imageSmoothingEnabled = false;
  g.clearRect(0, 0, canvas.width, canvas.height);
  g.drawImage(buffer, 0, 0, canvas.width, canvas.height);
}

function tile(caption, fill) {
  const box = document.createElement("div"), canvas = document.createElement("canvas"), text = document.createElement("div");
  box.className = "tile";
  canvas.width = canvas.height = 28;
  fill(canvas);
  text.textContent = caption;
  box.append(canvas, text);
  return box;
}

// -- the chosen model: its mistakes and its first layer ----------------------------------------

function refreshModels(choose) {
  const select = $("model");
  const current = choose || select.value;
  select.textContent = "";
  if (config.model) select.add(new Option(`loaded file: ${config.model.label} (${config.model.layer_sizes.join("-")})`, config.model.id));
  for (const run of runs.values()) select.add(new Option(`run ${run.summary.id}: ${run.summary.label}`, run.summary.id));
  if (current && [...select.options].some((o) => o.value === current)) select.value = current;
  if (select.value !== current || choose) showModel();
}

async function showModel() {
  const model = $("model").value;
  $("mistakes").textContent = "";
  $("weights").textContent = "";
  if (!model) return;
  predict();
  try {
    const [mistakes, weights] = await Promise.all([api(`/api/models/${model}/mistakes`), api(`/api/models/${model}/weights`)]);
    $("mistake-count").textContent = `(${mistakes.errors} of ${mistakes.of}; the first ${mistakes.images.length}, true → predicted)`;
    $("mistakes").textContent = "";
    for (const m of mistakes.images) {
      $("mistakes").append(tile(`${m.label} → ${m.predicted} (${(100 * m.probability).toFixed(0)}%)`, (c) => paintDigit(c, m.pixels)));
    }
    $("weights").textContent = "";
    $("weights-note").textContent = weights.units > weights.weights.length ?
      `The first ${weights.weights.length} of ${weights.units} units.` : `${weights.units} units.`;
    weights.weights.forEach((w, unit) => {
      $("weights").append(tile(`unit ${unit}`, (c) => {
        const image = new ImageData(28, 28);
        w.forEach((v, i) => {
          const t = Math.abs(v) / 127, r = v > 0 ? 255 : 255 * (1 - t), b = v < 0 ? 255 : 255 * (1 - t), gr = 255 * (1 - t);
          image.data.set([r, gr, b, 255], 4 * i);
        });
        paintImage(c, image);
      }));
    });
  } catch (error) {
    say(error.message, true);
  }
}

// -- start -------------------------------------------------------------------------------------

async function main() {
  config = await api("/api/config");
  for (const name of config.activations) $("activation").add(new Option(name, name));
  for (const name of ["batch_size", "epochs"]) [$(name).min, $(name).max] = config.limits[name];
  const [widest, deepest] = [config.limits["hidden width"][1], config.limits.depth[1]];
  $("hidden").title = `one width per hidden layer (at most ${deepest} layers of ${widest} units), e.g. 100 100`;
  for (const name of Object.keys(config.optimizers)) $("optimizer").add(new Option(name, name));
  $("optimizer").onchange = () => { $("learning_rate").value = config.optimizers[$("optimizer").value]; };
  const presets = $("presets");
  for (const preset of config.presets) {
    presets.append(button(preset.label, () => { fillForm(preset); startRun(formFields()); }));
  }
  const all = button("Run all four", async () => {
    for (const preset of config.presets) { fillForm(preset); await startRun(formFields()); }
  });
  all.className = "all";
  presets.append(all);
  fillForm(config.presets[0]);
  $("run-form").onsubmit = (e) => { e.preventDefault(); startRun(formFields()); };
  $("model").onchange = showModel;
  setUpPad();
  for (const run of await api("/api/runs")) follow(run);
  refreshModels();
  drawChart();
  document.body.dataset.ready = "true";
}

main().catch((error) => say(`The page could not start: ${error.message}`, true));
