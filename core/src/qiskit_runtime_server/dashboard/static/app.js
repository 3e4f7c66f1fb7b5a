// The dashboard: plain JavaScript over /dashboard/api/*, no framework, no build step.
// Every value from the server goes into the page as text (never as HTML); charts are SVG.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const GRANT = "urn:ibm:params:oauth:grant-type:apikey";
const REFRESH_MS = 2000;
const PAGE_SIZE = 20;
const STATUSES = ["Queued", "Running", "Completed", "Failed", "Cancelled"];

const state = {
  token: sessionStorage.getItem("qrs.token"),
  instance: sessionStorage.getItem("qrs.instance"),
  me: null,
  timer: null,
};

class AuthError extends Error {}
class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// -- building the page ---------------------------------------------------------------------

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function svg(tag, attributes, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function show(...children) {
  const view = document.getElementById("view");
  view.replaceChildren(...children.flat().filter(Boolean));
  document.getElementById("refreshed").textContent = "Updated " + new Date().toLocaleTimeString();
}

function status(value) { return el("span", { class: "status " + value }, value); }
function when(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }
function seconds(value) {
  if (value === null || value === undefined) return "—";
  return value < 1 ? (value * 1000).toFixed(0) + " ms" : value.toFixed(2) + " s";
}
function bytes(value) { return (value / 2 ** 30).toFixed(1) + " GiB"; }
function jobLink(id) { return el("a", { href: "#/jobs/" + encodeURIComponent(id), class: "mono" }, id); }
function table(headers, rows, empty) {
  if (!rows.length) return el("p", { class: "muted" }, empty);
  return el("table", {},
    el("thead", {}, el("tr", {}, headers.map(([label, cls]) => el("th", { class: cls }, label)))),
    el("tbody", {}, rows));
}

// -- talking to the server -----------------------------------------------------------------
// Every URL is relative to the page's, /dashboard (or /PREFIX/dashboard behind a proxy that
// serves the server under a path prefix): "dashboard/api/me" is /PREFIX/dashboard/api/me.

async function api(path) {
  const headers = {};
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (state.instance) headers["Service-CRN"] = state.instance;
  const response = await fetch(path, { headers });
  if (response.status === 401) throw new AuthError("sign in");
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = body.errors && body.errors[0] ? body.errors[0].message : response.statusText;
    throw new ApiError(response.status, message);
  }
  return body;
}

async function signIn(key) {
  const response = await fetch("identity/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: GRANT, apikey: key }),
  });
  if (!response.ok) throw new Error("This key is not valid.");
  state.token = (await response.json()).access_token;
  sessionStorage.setItem("qrs.token", state.token);
}

function signOut() {
  sessionStorage.clear();
  state.token = null; state.instance = null; state.me = null;
  start();
}

// -- views ---------------------------------------------------------------------------------

async function overviewView() {
  const data = await api("dashboard/api/overview");
  const executors = data.executors.map((e) => el("tr", { "data-executor": e.name },
    el("td", {}, el("strong", {}, e.name), " ", el("span", { class: "muted" }, e.version)),
    el("td", {}, e.device),
    el("td", {}, status(e.available ? "available" : "unavailable"),
      e.reason ? el("div", { class: "muted" }, e.reason) : null),
    el("td", { class: "num workers" }, e.workers_alive),
    el("td", { class: "num queued" }, e.queued),
    el("td", { class: "num running" }, e.running),
    el("td", { class: "num" }, e.max_qubits),
    el("td", {}, e.programs.join(", "), e.simulates_noise ? " · noise" : ""),
    el("td", {}, memory(e.device_memory))));
  const usage = data.instances.map((i) => el("tr", {},
    el("td", {}, i.name, el("div", { class: "muted mono" }, i.crn)),
    el("td", { class: "num" }, i.jobs),
    el("td", { class: "num" }, i.pending_jobs),
    el("td", { class: "num" }, seconds(i.usage_seconds))));
  const sessions = Object.entries(data.sessions_by_state).map(([name, count]) =>
    el("tr", {}, el("td", {}, name), el("td", { class: "num" }, count)));
  show(
    el("section", { id: "executors" }, el("h2", {}, "Executors, workers and queues"),
      table([["Executor"], ["Device"], ["Availability"], ["Workers", "num"], ["Queued", "num"],
        ["Running", "num"], ["Max qubits", "num"], ["Programs"], ["Device memory"]], executors,
      "No executor is installed.")),
    el("section", { id: "usage" }, el("h2", {}, "Usage per instance"),
      table([["Instance"], ["Jobs", "num"], ["Queued or running", "num"], ["Usage", "num"]],
        usage, "No instance.")),
    el("section", {}, el("h2", {}, "Sessions by state"),
      table([["State"], ["Sessions", "num"]], sessions, "No session yet.")));
  return true; // the overview follows workers and queues, which change when idle too: always refreshed
}

function memory(reported) {
  if (!reported || typeof reported.total_bytes !== "number") return el("span", { class: "muted" }, "—");
  const used = reported.used_bytes || 0;
  const share = Math.min(100, (100 * used) / reported.total_bytes);
  return el("span", { class: "memory" },
    el("span", { class: "meter" }, el("span", { style: "width:" + share.toFixed(1) + "%" })),
    " " + bytes(used) + " of " + bytes(reported.total_bytes));
}

async function jobsView(query) {
  const params = new URLSearchParams(query);
  const offset = Number(params.get("offset") || 0);
  const request = new URLSearchParams({ limit: PAGE_SIZE, offset });
  for (const name of ["status", "backend", "session_id"]) if (params.get(name)) request.set(name, params.get(name));
  for (const tag of (params.get("tags") || "").split(",")) if (tag.trim()) request.append("tags", tag.trim());
  const data = await api("dashboard/api/jobs?" + request);
  const filters = el("form", { class: "filters", id: "filters", onsubmit: (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const next = new URLSearchParams();
    for (const [name, value] of form.entries()) if (value) next.set(name, value);
    location.hash = "#/jobs?" + next;
  } },
    el("label", {}, "Status", el("select", { name: "status" }, el("option", { value: "" }, "any"),
      STATUSES.map((s) => el("option", { value: s, selected: params.get("status") === s }, s)))),
    el("label", {}, "Backend", el("input", { name: "backend", value: params.get("backend") || "" })),
    el("label", {}, "Session", el("input", { name: "session_id", value: params.get("session_id") || "" })),
    el("label", {}, "Tags (comma-separated)", el("input", { name: "tags", value: params.get("tags") || "" })),
    el("button", { type: "submit" }, "Filter"));
  const rows = data.jobs.map((job) => el("tr", { "data-job": job.id },
    el("td", {}, jobLink(job.id)),
    el("td", {}, status(job.status)),
    el("td", {}, job.program),
    el("td", {}, job.backend),
    el("td", {}, when(job.created)),
    el("td", { class: "num" }, seconds(job.usage_seconds)),
    el("td", { class: "mono" }, job.session_id || ""),
    el("td", {}, job.tags.join(", "))));
  const page = (delta) => {
    const next = new URLSearchParams(params);
    next.set("offset", Math.max(0, offset + delta));
    return "#/jobs?" + next;
  };
  show(el("section", { id: "jobs" }, el("h2", {}, "Jobs"), filters,
    table([["Job"], ["Status"], ["Program"], ["Backend"], ["Created"], ["Usage", "num"], ["Session"],
      ["Tags"]], rows, "No job matches."),
    el("div", { class: "pager" },
      offset > 0 ? el("a", { href: page(-PAGE_SIZE), id: "previous" }, "← newer") : null,
      el("span", { class: "muted" },
        data.count ? `${offset + 1}–${offset + data.jobs.length} of ${data.count}` : ""),
      offset + data.jobs.length < data.count ? el("a", { href: page(PAGE_SIZE), id: "next" }, "older →") : null)));
  return data.jobs.some((job) => job.status === "Queued" || job.status === "Running");
}

async function jobView(id) {
  let job;
  try {
    job = await api("dashboard/api/jobs/" + encodeURIComponent(id));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      show(el("section", { id: "not-found" }, el("h2", {}, "Job not found"),
        el("p", {}, "No job " + id + " in this instance.")));
      return false;
    }
    throw error;
  }
  const facts = el("dl", { class: "facts" },
    el("dt", {}, "Status"), el("dd", {}, status(job.status), job.reason ? " " + job.reason : ""),
    el("dt", {}, "Program"), el("dd", {}, job.program),
    el("dt", {}, "Backend"), el("dd", {}, job.backend),
    el("dt", {}, "Session"), el("dd", { class: "mono" }, job.session_id || "—"),
    el("dt", {}, "Tags"), el("dd", {}, job.tags.join(", ") || "—"),
    el("dt", {}, "Waited"), el("dd", {}, seconds(job.queue_seconds)),
    el("dt", {}, "Ran"), el("dd", {}, seconds(job.usage_seconds)),
    el("dt", {}, "Executions"), el("dd", {}, job.executions));
  const circuits = job.circuits.map((c, index) => el("tr", {},
    el("td", { class: "num" }, index), el("td", { class: "num" }, c.qubits), el("td", { class: "num" }, c.depth)));
  const pubs = job.pubs.map((pub, index) => el("tr", {},
    el("td", { class: "num" }, index),
    el("td", { class: "num" }, pub.shape.length ? pub.shape.join(" × ") : "scalar"),
    el("td", { class: "num" }, pub.parameter_sets),
    el("td", { class: "num" }, pub.shots ?? "—"),
    el("td", { class: "num" }, pub.precision === null || pub.precision === undefined
      ? "—" : Number(pub.precision).toPrecision(3))));
  show(
    el("section", { id: "job", "data-status": job.status }, el("h2", {}, "Job ", el("span", { class: "mono" }, job.id)),
      facts, timeline(job)),
    el("section", { id: "pubs" }, el("h2", {}, "PUBs"),
      table([["Circuit", "num"], ["Qubits", "num"], ["Depth", "num"]], circuits, "No circuit recorded."),
      job.pubs.length ? table([["PUB", "num"], ["Shape", "num"], ["Parameter sets", "num"], ["Shots", "num"],
        ["Precision", "num"]], pubs, "") : null),
    el("section", { id: "results" }, el("h2", {}, "Results"),
      job.note ? el("p", { class: "muted" }, job.note) : null,
      !job.pubs.length && !job.note ? el("p", { class: "muted" }, "No result yet.") : null,
      job.pubs.map(drawPub)),
    el("section", { id: "logs" }, el("h2", {}, "Logs"), el("pre", { class: "logs" }, job.logs.join("\n") || "(none)")));
  return job.status === "Queued" || job.status === "Running";
}

async function sessionsView() {
  const data = await api("dashboard/api/sessions?limit=50");
  const rows = data.sessions.map((s) => el("tr", { "data-session": s.id },
    el("td", {}, el("a", { href: "#/jobs?session_id=" + encodeURIComponent(s.id), class: "mono" }, s.id)),
    el("td", {}, s.mode), el("td", {}, s.backend), el("td", {}, s.state),
    el("td", {}, s.accepting_jobs ? "yes" : "no"), el("td", {}, when(s.created)),
    el("td", { class: "num" }, seconds(s.elapsed_time))));
  show(el("section", { id: "sessions" }, el("h2", {}, "Sessions and batches"),
    table([["Session"], ["Mode"], ["Backend"], ["State"], ["Accepting jobs"], ["Created"], ["Elapsed", "num"]],
      rows, "No session yet.")));
  return data.sessions.some((s) => s.state === "active" || s.state === "open");
}

// -- charts --------------------------------------------------------------------------------

function timeline(job) {
  const created = Date.parse(job.created);
  const running = job.running_at ? Date.parse(job.running_at) : null;
  const finished = job.finished_at ? Date.parse(job.finished_at) : null;
  const end = finished || Date.now();
  const span = Math.max(1, end - created);
  const width = 640, left = 10, usable = width - 2 * left;
  const x = (t) => left + (usable * (t - created)) / span;
  const chart = svg("svg", { width, height: 70, class: "timeline", role: "img", "aria-label": "timeline" });
  const queueEnd = running || end;
  chart.append(svg("rect", { class: "queue", x: x(created), y: 8, height: 16, width: Math.max(1, x(queueEnd) - x(created)) },
    svg("title", {}, "queued " + seconds((queueEnd - created) / 1000))));
  if (running) {
    chart.append(svg("rect", { class: "run", x: x(running), y: 8, height: 16, width: Math.max(1, x(end) - x(running)) },
      svg("title", {}, "running " + seconds((end - running) / 1000))));
  }
  // One row of labels per event, so that close events never overlap.
  const marks = [["created", created, "start"], ["running", running, "start"],
    [job.status.toLowerCase(), finished, "end"]];
  marks.forEach(([label, t, anchor], row) => {
    if (!t) return;
    const at = anchor === "end" ? width - left : Math.min(x(t), width / 2);
    chart.append(svg("text", { x: at, y: 38 + 13 * (anchor === "end" ? 0 : row), "text-anchor": anchor },
      label + " " + new Date(t).toLocaleTimeString()));
  });
  return chart;
}

function drawPub(pub, index) {
  const title = el("h3", {}, "PUB " + index);
  if (pub.kind === "counts") {
    return el("div", { class: "pub", "data-pub": index }, title,
      pub.registers.map((register) => el("figure", {},
        histogram(register),
        el("figcaption", { class: "muted" }, `register ${register.name}: ${register.total} shots`,
          register.other ? `, ${register.other} in outcomes not drawn` : ""))));
  }
  if (pub.kind === "expectation_values") {
    return el("div", { class: "pub", "data-pub": index }, title, errorBars(pub.values),
      pub.truncated ? el("p", { class: "muted" }, "The first values only.") : null);
  }
  return el("div", { class: "pub", "data-pub": index }, title, el("p", { class: "muted" }, "Nothing to draw."));
}

function histogram(register) {
  const counts = register.counts;
  const width = Math.max(320, Math.min(960, 40 + counts.length * 36)), height = 240;
  const left = 48, bottom = 56, top = 10, plotHeight = height - bottom - top;
  const most = Math.max(1, ...counts.map((c) => c.count));
  const slot = (width - left - 10) / Math.max(1, counts.length);
  const chart = svg("svg", { width, height, class: "histogram", role: "img", "aria-label": "counts of register " + register.name });
  for (const fraction of [0, 0.5, 1]) {
    const y = top + plotHeight * (1 - fraction);
    chart.append(svg("line", { class: "grid", x1: left, x2: width - 10, y1: y, y2: y }),
      svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, Math.round(most * fraction)));
  }
  counts.forEach((c, i) => {
    const barHeight = (plotHeight * c.count) / most;
    const x = left + i * slot + slot * 0.15;
    chart.append(svg("rect", { class: "bar", x, y: top + plotHeight - barHeight, width: slot * 0.7,
      height: barHeight, "data-outcome": c.outcome, "data-count": c.count },
    svg("title", {}, c.outcome + ": " + c.count)));
    const labelX = x + slot * 0.35, labelY = top + plotHeight + 12;
    chart.append(svg("text", { x: labelX, y: labelY, "text-anchor": "end",
      transform: `rotate(-45 ${labelX} ${labelY})`, class: "mono" }, c.outcome));
  });
  chart.append(svg("line", { class: "axis", x1: left, x2: width - 10, y1: top + plotHeight, y2: top + plotHeight }));
  return chart;
}

function errorBars(values) {
  const width = Math.max(320, Math.min(960, 60 + values.length * 40)), height = 240;
  const left = 56, bottom = 30, top = 12, plotHeight = height - bottom - top;
  let low = Math.min(0, ...values.map((v) => v.ev - v.std));
  let high = Math.max(0, ...values.map((v) => v.ev + v.std));
  if (high - low < 1e-9) { low -= 1; high += 1; }
  const pad = 0.1 * (high - low); low -= pad; high += pad;
  const y = (value) => top + (plotHeight * (high - value)) / (high - low);
  const slot = (width - left - 10) / Math.max(1, values.length);
  const chart = svg("svg", { width, height, class: "errorbars", role: "img", "aria-label": "expectation values" });
  chart.append(svg("line", { class: "axis", x1: left, x2: left, y1: top, y2: top + plotHeight }));
  for (const tick of ticks(low + pad, high - pad)) {
    chart.append(svg("line", { class: "grid", x1: left, x2: width - 10, y1: y(tick), y2: y(tick) }),
      svg("text", { x: left - 6, y: y(tick) + 4, "text-anchor": "end" }, tick.toFixed(3)));
  }
  values.forEach((v, i) => {
    const x = left + (i + 0.5) * slot;
    chart.append(
      svg("line", { class: "errorbar", x1: x, x2: x, y1: y(v.ev - v.std), y2: y(v.ev + v.std) }),
      svg("line", { class: "errorbar", x1: x - 5, x2: x + 5, y1: y(v.ev - v.std), y2: y(v.ev - v.std) }),
      svg("line", { class: "errorbar", x1: x - 5, x2: x + 5, y1: y(v.ev + v.std), y2: y(v.ev + v.std) }),
      svg("circle", { class: "ev", cx: x, cy: y(v.ev), r: 4, "data-ev": v.ev, "data-std": v.std },
        svg("title", {}, `⟨O${i}⟩ = ${v.ev.toFixed(4)} ± ${v.std.toFixed(4)}`)),
      svg("text", { x, y: height - 10, "text-anchor": "middle" }, "⟨O" + i + "⟩"));
  });
  return chart;
}

// Five values from low to high, and 0 when it lies between.
function ticks(low, high) {
  const values = [0, 1, 2, 3, 4].map((i) => low + (i * (high - low)) / 4);
  if (low < 0 && high > 0 && !values.some((v) => Math.abs(v) < (high - low) / 10)) values.push(0);
  return values;
}

// -- routing and refresh -------------------------------------------------------------------

async function route() {
  clearTimeout(state.timer);
  const hash = location.hash || "#/";
  const [path, query] = hash.slice(1).split("?");
  const view = path.startsWith("/jobs/") ? "job" : path.startsWith("/jobs") ? "jobs"
    : path.startsWith("/sessions") ? "sessions" : "overview";
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.view === (view === "job" ? "jobs" : view));
  }
  let again = false;
  try {
    if (view === "job") again = await jobView(decodeURIComponent(path.slice("/jobs/".length)));
    else if (view === "jobs") again = await jobsView(query || "");
    else if (view === "sessions") again = await sessionsView();
    else again = await overviewView();
  } catch (error) {
    if (error instanceof AuthError) { showSignIn(); return; }
    show(el("section", {}, el("p", { class: "error", role: "alert" }, String(error.message || error))));
    again = true;
  }
  if (again && location.hash === hash) state.timer = setTimeout(route, REFRESH_MS);
}

function showSignIn(message) {
  sessionStorage.removeItem("qrs.token");
  state.token = null;
  document.getElementById("view").replaceChildren();
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message || "";
  document.getElementById("instance-picker").hidden = true;
  document.getElementById("logout").hidden = true;
}

async function start() {
  document.getElementById("login").hidden = true;
  try {
    state.me = await api("dashboard/api/me");
  } catch (error) {
    if (error instanceof AuthError) { showSignIn(); return; }
    show(el("p", { class: "error" }, String(error.message || error)));
    return;
  }
  const picker = document.getElementById("instance");
  const crns = state.me.instances.map((i) => i.crn);
  if (!crns.includes(state.instance)) state.instance = crns[0] || null;
  if (state.instance) sessionStorage.setItem("qrs.instance", state.instance);
  picker.replaceChildren(...state.me.instances.map((i) =>
    el("option", { value: i.crn, selected: i.crn === state.instance }, i.name)));
  document.getElementById("instance-picker").hidden = false;
  document.getElementById("logout").hidden = state.me.mode !== "keys";
  route();
}

document.addEventListener("DOMContentLoaded", () => {
  window.addEventListener("hashchange", route);
  document.getElementById("instance").addEventListener("change", (event) => {
    state.instance = event.target.value;
    sessionStorage.setItem("qrs.instance", state.instance);
    route();
  });
  document.getElementById("logout").addEventListener("click", signOut);
  document.getElementById("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await signIn(document.getElementById("key").value);
      document.getElementById("key").value = "";
      start();
    } catch (error) {
      showSignIn(error.message);
    }
  });
  start();
});
