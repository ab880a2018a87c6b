/*
 * Reports: the daily funnel of a period of UTC days (GET funnel?from=&to=), drawn as an SVG
 * chart made here (no chart library) with the same figures in a table, the confirmation
 * rate, the median time to confirm, and the figures as CSV. The period lives in the address
 * bar, so a report can be bookmarked and shared.
 */
import { el, errorOf, fieldFor, request } from "./api.js";
import { formatDuration } from "./graph-status.js";
import { showUser, signOut } from "./session.js";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const FIELDS = ["from", "to"];
const DEFAULT_DAYS = 30;
export const MAX_DAYS = 366;

// The series, in the funnel's order; the outcomes are stacked in the chart, sign-ups drawn
// as a line over them. Colours are at least 3:1 against white (WCAG 1.4.11).
export const SERIES = Object.freeze([
  { key: "signedUp", label: "Signed up", colour: "#1d5fa8" },
  { key: "texted", label: "Texted", colour: null },
  { key: "confirmed", label: "Confirmed", colour: "#037f0c" },
  { key: "expired", label: "Expired", colour: "#8a5a00" },
  { key: "optedOut", label: "Opted out", colour: "#5f6b7a" },
  { key: "rejected", label: "Rejected", colour: "#d91515" },
]);
const STACKED = ["confirmed", "expired", "optedOut", "rejected"];
const LABEL = Object.fromEntries(SERIES.map((s) => [s.key, s.label]));
const COLOUR = Object.fromEntries(SERIES.map((s) => [s.key, s.colour]));

let latest = null;

/** YYYY-MM-DD of a Date, in UTC. */
export function utcDay(date) {
  return date.toISOString().slice(0, 10);
}

/** The last `days` UTC days, today included. */
export function lastDays(days, now = new Date()) {
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const from = new Date(to.getTime() - (days - 1) * 86400000);
  return { from: utcDay(from), to: utcDay(to) };
}

const shortDay = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
const longDay = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  year: "numeric",
  month: "short",
  day: "numeric",
  timeZone: "UTC",
});

function dayOf(iso) {
  return new Date(`${iso}T00:00:00Z`);
}

/** A step for the y axis that gives about four gridlines: 1, 2, 5, 10, 20, 50, … */
export function niceStep(max) {
  const rough = Math.max(1, max) / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
  return Math.max(1, step);
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/**
 * The chart: per day a bar of the outcomes stacked (confirmed, expired, opted out, rejected)
 * and a line through the day's sign-ups. role="img" with a title and a description that
 * sums it up; each bar part has a <title> for a pointer's hover.
 */
export function drawChart(days, totals) {
  const width = 860;
  const height = 300;
  const pad = { left: 44, right: 12, top: 12, bottom: 44 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const top = Math.max(1, ...days.map((d) => Math.max(d.signedUp, STACKED.reduce((n, k) => n + d[k], 0))));
  const step = niceStep(top);
  const yMax = Math.ceil(top / step) * step;
  const y = (v) => pad.top + plotH - (v / yMax) * plotH;
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(2, Math.min(28, slot * 0.7));
  const x = (i) => pad.left + slot * i + slot / 2;

  const title = svg("title", { id: "chart-title" }, "Daily funnel");
  const desc = svg(
    "desc",
    { id: "chart-desc" },
    `${days.length} days from ${days.length ? longDay.format(dayOf(days[0].date)) : "—"}` +
      ` to ${days.length ? longDay.format(dayOf(days[days.length - 1].date)) : "—"}: ` +
      SERIES.map((s) => `${totals[s.key]} ${s.label.toLowerCase()}`).join(", ") +
      ". The table below has each day's figures.",
  );
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-labelledby": "chart-title chart-desc",
    class: "funnel-chart",
    preserveAspectRatio: "xMidYMid meet",
  });
  root.append(title, desc);

  const grid = svg("g", { class: "chart-grid", "aria-hidden": "true" });
  for (let v = 0; v <= yMax; v += step) {
    grid.append(
      svg("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }),
      svg("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" }, String(v)),
    );
  }
  root.append(grid);

  const bars = svg("g", { class: "chart-bars" });
  days.forEach((d, i) => {
    let base = 0;
    const group = svg("g", { "data-date": d.date });
    for (const key of STACKED) {
      if (!d[key]) continue;
      group.append(
        svg(
          "rect",
          {
            x: x(i) - barW / 2,
            y: y(base + d[key]),
            width: barW,
            height: y(base) - y(base + d[key]),
            fill: COLOUR[key],
            "data-series": key,
            "data-value": d[key],
          },
          svg("title", {}, `${shortDay.format(dayOf(d.date))}: ${d[key]} ${LABEL[key].toLowerCase()}`),
        ),
      );
      base += d[key];
    }
    bars.append(group);
  });
  root.append(bars);

  const points = days.map((d, i) => `${x(i).toFixed(1)},${y(d.signedUp).toFixed(1)}`);
  const line = svg("g", { class: "chart-line" });
  if (days.length > 1) {
    line.append(svg("polyline", { points: points.join(" "), fill: "none", stroke: COLOUR.signedUp, "stroke-width": 2 }));
  }
  days.forEach((d, i) => {
    line.append(
      svg(
        "circle",
        { cx: x(i), cy: y(d.signedUp), r: 3.5, fill: COLOUR.signedUp, "data-series": "signedUp", "data-value": d.signedUp },
        svg("title", {}, `${shortDay.format(dayOf(d.date))}: ${d.signedUp} signed up`),
      ),
    );
  });
  root.append(line);

  // Day labels: no more than about ten, so they never overlap.
  const every = Math.max(1, Math.ceil(days.length / 10));
  const labels = svg("g", { class: "chart-labels", "aria-hidden": "true" });
  days.forEach((d, i) => {
    if (i % every) return;
    labels.append(svg("text", { x: x(i), y: height - pad.bottom + 18, "text-anchor": "middle" }, shortDay.format(dayOf(d.date))));
  });
  root.append(labels);
  return root;
}

function renderLegend() {
  $("chart-legend").replaceChildren(
    ...SERIES.filter((s) => s.colour).map((s) =>
      el(
        "li",
        {},
        el("span", { class: `swatch swatch--${s.key}`, "aria-hidden": "true" }),
        s.key === "signedUp" ? `${s.label} (line)` : s.label,
      ),
    ),
  );
}

function numberRow(cells, head) {
  return el(
    "tr",
    {},
    el("th", { scope: "row" }, head),
    ...cells.map((v) => el("td", { class: "number", text: String(v) })),
  );
}

function renderTable(data) {
  const keys = SERIES.map((s) => s.key);
  $("funnel").tBodies[0].replaceChildren(
    ...data.days.map((d) =>
      numberRow(
        keys.map((k) => d[k]),
        el("time", { datetime: d.date }, longDay.format(dayOf(d.date))),
      ),
    ),
  );
  $("funnel").tFoot.replaceChildren(numberRow(keys.map((k) => data.totals[k]), "Total"));
}

// Reasons the defences against SMS pumping give (functions/optin/usecases/defences.py).
const BLOCKED_LABELS = Object.freeze({
  captcha_missing: "CAPTCHA not solved",
  captcha_invalid: "CAPTCHA answer wrong or expired",
  captcha_replayed: "CAPTCHA answer used again",
  daily_cap: "Daily cap on confirmation texts",
  country_not_allowed: "Country not allowed",
});
const SCOPE_LABELS = Object.freeze({
  number: "per number",
  ip: "per IP address",
  prefix: "per number prefix",
  global: "all sign-ups",
  api_key: "per API key",
});

/** A person's words for a blocked-attempt reason code (rate_limit_ip_hour, captcha_…). */
export function blockedLabel(reason) {
  if (BLOCKED_LABELS[reason]) return BLOCKED_LABELS[reason];
  const limit = /^rate_limit_(.+)_(hour|day)$/.exec(reason);
  if (limit) return `Rate limit, ${SCOPE_LABELS[limit[1]] || limit[1]}, per ${limit[2]}`;
  return reason;
}

function renderBlocked(blocked) {
  const reasons = Object.keys(blocked || {}).sort();
  const total = reasons.reduce((sum, reason) => sum + blocked[reason], 0);
  $("blocked-none").hidden = reasons.length > 0;
  $("blocked").hidden = reasons.length === 0;
  $("blocked").tBodies[0].replaceChildren(
    ...reasons.map((reason) => numberRow([blocked[reason]], blockedLabel(reason))),
  );
  $("blocked").tFoot.replaceChildren(numberRow([total], "Total"));
}

export function formatRate(rate) {
  return typeof rate === "number" && Number.isFinite(rate) ? `${(rate * 100).toFixed(1)}%` : "—";
}

function render(data) {
  latest = data;
  const rate = data.confirmationRate;
  $("confirmation-rate").textContent = formatRate(rate);
  $("confirmation-rate-note").textContent =
    typeof rate === "number"
      ? `${data.totals.confirmed} confirmed of ${data.totals.texted} texted`
      : "No number was texted in this period.";
  const median = data.medianSecondsToConfirm;
  $("median-confirm").textContent = typeof median === "number" ? formatDuration(median * 1000) : "—";
  $("chart").replaceChildren(drawChart(data.days, data.totals));
  renderTable(data);
  renderBlocked(data.blocked);
  $("download-csv").disabled = false;
}

/** The figures as CSV, one line a day and a total line (RFC 4180, CRLF). */
export function toCsv(data) {
  const keys = SERIES.map((s) => s.key);
  const lines = [["date", ...keys].join(",")];
  for (const d of data.days) lines.push([d.date, ...keys.map((k) => Number(d[k]))].join(","));
  lines.push(["total", ...keys.map((k) => Number(data.totals[k]))].join(","));
  return `${lines.join("\r\n")}\r\n`;
}

function downloadCsv() {
  if (!latest) return;
  const { from, to } = periodFromUrl();
  const url = URL.createObjectURL(new Blob([toCsv(latest)], { type: "text/csv" }));
  const a = el("a", { href: url, download: `funnel-${from}-to-${to}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// --- the period ---

function periodFromUrl() {
  const params = new URLSearchParams(location.search);
  const fallback = lastDays(DEFAULT_DAYS);
  return { from: params.get("from") || fallback.from, to: params.get("to") || fallback.to };
}

function setFieldError(name, message) {
  $(`${name}-error`).textContent = message || "";
  if (message) $(name).setAttribute("aria-invalid", "true");
  else $(name).removeAttribute("aria-invalid");
}

function clearErrors() {
  FIELDS.forEach((f) => setFieldError(f, ""));
  $("period-error").textContent = "";
}

/** The page's own checks, before asking: both days given, in order, at most a year. */
export function checkPeriod(from, to) {
  const valid = (s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(dayOf(s).getTime());
  if (!valid(from)) return ["from", "Enter the first day, like 2026-11-01."];
  if (!valid(to)) return ["to", "Enter the last day, like 2026-11-30."];
  if (from > to) return ["from", "The first day must not be after the last day."];
  const days = (dayOf(to) - dayOf(from)) / 86400000 + 1;
  if (days > MAX_DAYS) return ["to", `A report covers at most ${MAX_DAYS} days; this is ${days}.`];
  return null;
}

async function load() {
  const { from, to } = periodFromUrl();
  $("from").value = from;
  $("to").value = to;
  clearErrors();
  const problem = checkPeriod(from, to);
  if (problem) {
    setFieldError(...problem);
    return;
  }
  const status = $("report-status");
  status.textContent = "Loading the report…";
  let result;
  try {
    result = await request("GET", `funnel?${new URLSearchParams({ from, to })}`);
  } catch {
    status.textContent = "";
    $("period-error").textContent = "Could not reach the console. Check your connection and try again.";
    return;
  }
  if (result.status === 401) {
    signedOut();
    return;
  }
  if (!result.ok || !result.data || !Array.isArray(result.data.days)) {
    status.textContent = "";
    const error = errorOf(result);
    const field = fieldFor(error, FIELDS);
    if (field) setFieldError(field, error.message);
    else $("period-error").textContent = error.message;
    return;
  }
  render(result.data);
  status.textContent = `Showing ${result.data.days.length} days, ${longDay.format(dayOf(from))} to ${longDay.format(dayOf(to))}.`;
}

function signedOut() {
  $("reports").hidden = true;
  $("user-bar").hidden = true;
  $("signin-needed").hidden = false;
}

function go(from, to) {
  history.pushState(null, "", `?${new URLSearchParams({ from, to })}`);
  load();
}

async function start() {
  renderLegend();
  $("period").addEventListener("submit", (event) => {
    event.preventDefault();
    const from = $("from").value;
    const to = $("to").value;
    clearErrors();
    const problem = checkPeriod(from, to);
    if (problem) {
      setFieldError(...problem);
      $(problem[0]).focus();
      return;
    }
    go(from, to);
  });
  $("last-30").addEventListener("click", () => {
    const { from, to } = lastDays(DEFAULT_DAYS);
    go(from, to);
  });
  for (const name of FIELDS) $(name).addEventListener("input", () => setFieldError(name, ""));
  $("download-csv").addEventListener("click", downloadCsv);
  $("sign-out").addEventListener("click", async () => {
    await signOut();
    location.href = "index.html";
  });
  window.addEventListener("popstate", load);

  let session;
  try {
    session = await request("GET", "session");
  } catch {
    $("loading").hidden = true;
    $("page-error").textContent = "Could not reach the console. Check your connection and reload the page.";
    return;
  }
  $("loading").hidden = true;
  if (session.status === 401) {
    signedOut();
    return;
  }
  if (!session.ok || !session.data) {
    $("page-error").textContent = errorOf(session).message;
    return;
  }
  showUser(session.data);
  $("reports").hidden = false;
  await load();
}

start();
