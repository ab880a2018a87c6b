/*
 * One sign-up: the outcome in words, its workflow drawn and coloured from the execution's
 * history, the steps, the texts, the consent record with its evidence, and the raw event
 * history. While the execution runs, the page asks again every 2 s and recolours in place.
 */
import { el, errorOf, formatDateTime, formatPhone, request, statusBadge } from "./api.js";
import { drawGraph } from "./graph.js";
import {
  END_ID,
  executionView,
  formatDuration,
  historyRows,
  LEGEND,
  START_ID,
  STATUS_LABELS,
} from "./graph-status.js";
import { setupActions } from "./actions.js";
import { showUser, signOut } from "./session.js";

export const POLL_MS = 2000;

const $ = (id) => document.getElementById(id);
const registrationId = new URLSearchParams(location.search).get("id") || "";

let graph = null;
let pollTimer = null;
let latest = null;
let role = null; // the signed-in user's: only an agent sees the actions
let actions = null;
const expanded = new Set(); // history event ids whose details are open

const LEDGER_WORDS = {
  requested: "Sign-up requested",
  confirmation_sent: "Confirmation text sent",
  confirmed: "Confirmed by reply",
  welcome_sent: "Welcome text sent",
  opted_out: "Opted out",
  resubscribed: "Resubscribed (START)",
  expired: "Expired",
  resend_requested: "Confirmation resent",
  rejected: "Rejected",
  reply_sent: "Reply sent",
  imported: "Imported (consent recorded elsewhere)",
};
const EXPIRED_REASONS = {
  no_reply: "no reply before the confirmation window closed",
  workflow_failed: "the workflow failed; the clean-up marked it expired",
  execution_ended: "its execution was no longer running",
  agent_cancelled: "an agent cancelled the sign-up",
  agent_expired: "an agent expired the sign-up",
};

function fact(term, ...value) {
  return [el("dt", { text: term }), el("dd", {}, ...value)];
}

function code(text) {
  return el("code", { class: "wrap" }, text);
}

function renderSummary(data) {
  const s = data.signup;
  $("phone-heading").textContent = formatPhone(s.phoneNumber);
  $("status-badge").replaceChildren(statusBadge(s.status));
  $("outcome").textContent = (s.outcome && s.outcome.summary) || "";
  document.title = `${formatPhone(s.phoneNumber)} · Support console`;
  const channel = s.channel === "api" ? "Partner API" : s.channel === "web" ? "Web form" : s.channel;
  $("summary-facts").replaceChildren(
    ...fact("Registration ID", code(s.registrationId)),
    ...fact("Channel", channel || "—"),
    ...fact("Signed up", formatDateTime(s.createdAt)),
    ...fact("Last change", formatDateTime(s.updatedAt)),
    ...(s.expiresAt ? fact("Expires", formatDateTime(s.expiresAt)) : []),
    ...fact("Execution", s.executionArn ? code(s.executionArn) : "—"),
  );
}

function renderLegend() {
  $("legend").replaceChildren(
    ...LEGEND.map((status) =>
      el("li", {}, el("span", { class: `swatch swatch--${status}`, "aria-hidden": "true" }), STATUS_LABELS[status]),
    ),
  );
}

function graphSummary(view) {
  const parts = view.graph.nodes
    .filter((n) => n.id !== START_ID && n.id !== END_ID)
    .map((n) => `${n.label}: ${STATUS_LABELS[view.states[n.id].status]}`);
  return `The workflow's states and their status. ${parts.join("; ")}.`;
}

function renderSteps(view) {
  const rows = view.steps.map((step) =>
    el(
      "tr",
      { "data-state": step.name, "data-status": step.status },
      el("th", { scope: "row" }, step.name),
      el("td", { text: step.type }),
      el("td", {}, el("span", { class: `step-status step-status--${step.status}`, text: STATUS_LABELS[step.status] })),
      el("td", {}, step.startedAt ? el("time", { datetime: step.startedAt }, formatDateTime(step.startedAt)) : ""),
      el("td", { text: formatDuration(step.durationMs) + (step.status === "inProgress" ? " so far" : "") }),
      el("td", { text: String(step.retries) }),
      el("td", {}, step.error ? el("span", { title: step.cause || "" }, step.error) : "—"),
    ),
  );
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: "7", class: "empty-note", text: "No step has run." })));
  $("steps").tBodies[0].replaceChildren(...rows);
}

function prettyDetails(details) {
  // input/output/parameters arrive as JSON strings; show them parsed and indented.
  const copy = {};
  for (const [key, value] of Object.entries(details || {})) {
    if (typeof value === "string" && /^[[{]/.test(value.trim())) {
      try {
        copy[key] = JSON.parse(value);
        continue;
      } catch {
        // not JSON after all: shown as the string it is
      }
    }
    copy[key] = value;
  }
  return JSON.stringify(copy, null, 2);
}

function renderHistory(data) {
  const body = $("history").tBodies[0];
  const rows = [];
  for (const r of historyRows(data.history)) {
    const detailsId = `event-${r.id}-details`;
    const open = expanded.has(r.id);
    const toggle = el(
      "button",
      {
        type: "button",
        class: "disclosure",
        "aria-expanded": open ? "true" : "false",
        "aria-controls": detailsId,
        onclick: () => {
          if (expanded.has(r.id)) expanded.delete(r.id);
          else expanded.add(r.id);
          renderHistory(latest);
          // The rows were rebuilt: give the keyboard back its place.
          $("history").querySelector(`tr[data-event-id="${r.id}"] button`).focus();
        },
      },
      r.type,
    );
    rows.push(
      el(
        "tr",
        { class: r.failed ? "event--failed" : "", "data-event-id": String(r.id), "data-type": r.type },
        el("td", { text: String(r.id) }),
        el("td", {}, toggle),
        el("td", { text: r.step }),
        el("td", { text: r.elapsedMs === null ? "" : formatDuration(r.elapsedMs) }),
        el("td", {}, el("time", { datetime: r.timestamp }, formatDateTime(r.timestamp))),
      ),
    );
    const detailRow = el(
      "tr",
      { id: detailsId, class: "event-details" },
      el("td", { colspan: "5" }, el("pre", { tabindex: "0", "aria-label": `Details of event ${r.id}` }, prettyDetails(r.details))),
    );
    detailRow.hidden = !open;
    rows.push(detailRow);
  }
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: "5", class: "empty-note", text: "No history." })));
  body.replaceChildren(...rows);
  const e = data.execution;
  $("execution-facts").textContent = e
    ? `Execution ${e.status}, started ${formatDateTime(e.startDate)}${e.stopDate ? `, stopped ${formatDateTime(e.stopDate)}` : ""}.`
    : "No execution is recorded for this sign-up.";
}

function renderConversation(data) {
  const items = (data.conversation || []).map((m) =>
    el(
      "li",
      { class: `bubble bubble--${m.direction === "inbound" ? "inbound" : "outbound"}` },
      el("span", { class: "visually-hidden", text: m.direction === "inbound" ? "They replied: " : "We sent: " }),
      el("div", { class: "bubble__body", text: m.body }),
      el(
        "div",
        { class: "bubble__meta" },
        el("time", { datetime: m.at }, formatDateTime(m.at)),
        m.messageId ? ` · message ${m.messageId}` : "",
      ),
    ),
  );
  if (!items.length) items.push(el("li", { class: "empty-note", text: "No texts were sent or received." }));
  $("conversation").replaceChildren(...items);
}

function detailFacts(event) {
  const d = event.details || {};
  const facts = [];
  if (event.type === "requested" && d.evidence) {
    const ev = d.evidence;
    facts.push(
      ...fact("Channel", ev.channel === "api" ? "Partner API" : ev.channel === "web" ? "Web form" : ev.channel || "—"),
      ...fact("IP address", ev.ip || "—"),
      ...(ev.forwardedFor ? fact("Forwarded for", ev.forwardedFor) : []),
      ...fact("User agent", ev.userAgent || "—"),
      ...fact("Page", ev.page || "—"),
      ...(ev.apiClient ? fact("API client", ev.apiClient) : []),
      ...fact("Captured", formatDateTime(ev.capturedAt)),
    );
    if (ev.disclosure) {
      facts.push(
        ...fact("Disclosure version", ev.disclosure.version || "—"),
        ...fact("Disclosure shown", el("blockquote", { class: "quote", text: ev.disclosure.text || "" })),
      );
    }
    return facts;
  }
  if (d.text) facts.push(...fact("Text", el("blockquote", { class: "quote", text: d.text })));
  if (d.version) facts.push(...fact("Text version", d.version));
  if (d.reply !== undefined) facts.push(...fact("Reply as received", el("q", { text: String(d.reply) })));
  if (d.receivedAt) facts.push(...fact("Received", formatDateTime(d.receivedAt)));
  if (event.type === "expired") {
    const reason = d.reason || "no_reply";
    facts.push(...fact("Why", EXPIRED_REASONS[reason] || reason));
    if (d.state) facts.push(...fact("At state", d.state));
    if (d.error) facts.push(...fact("Error", d.error));
    if (d.executionStatus) facts.push(...fact("Execution status", d.executionStatus));
  }
  if (d.messageId) facts.push(...fact("Message ID", code(d.messageId)));
  if (d.inboundMessageId) facts.push(...fact("Inbound message ID", code(d.inboundMessageId)));
  if (d.source) facts.push(...fact("Source", d.source));
  if (d.by) facts.push(...fact("By", d.by));
  if (d.why) facts.push(...fact("Reason given", el("q", { text: String(d.why) })));
  return facts;
}

function renderLedger(data) {
  const items = (data.ledger || []).map((event) =>
    el(
      "li",
      { class: "ledger__entry", "data-type": event.type },
      el(
        "div",
        { class: "ledger__head" },
        el("strong", { text: LEDGER_WORDS[event.type] || event.type }),
        " ",
        el("time", { datetime: event.at }, formatDateTime(event.at)),
      ),
      el("dl", { class: "facts" }, ...detailFacts(event)),
    ),
  );
  if (!items.length) items.push(el("li", { class: "empty-note", text: "Nothing is recorded." }));
  $("ledger").replaceChildren(...items);
}

function downloadEvidence() {
  if (!latest) return;
  const record = {
    kind: "sms-consent-evidence",
    exportedAt: new Date().toISOString(),
    signup: latest.signup,
    contact: latest.contact,
    ledger: latest.ledger,
    conversation: latest.conversation,
    execution: latest.execution,
  };
  const blob = new Blob([JSON.stringify(record, null, 2)], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: `consent-evidence-${latest.signup.registrationId}.json` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// What each section shows now, so a poll that brings nothing new rebuilds nothing: a screen
// reader's place, an open row and keyboard focus stay where they were.
const shown = {};
function changed(section, value) {
  const key = JSON.stringify(value);
  if (shown[section] === key) return false;
  shown[section] = key;
  return true;
}

function render(data) {
  latest = data;
  const status = data.execution ? data.execution.status : null;
  const view = executionView(data.definition, data.history, { executionStatus: status, now: Date.now() });
  if (changed("summary", data.signup)) renderSummary(data);
  if (actions) actions.update(data, role);
  const colours = { states: view.states, path: view.path };
  if (!graph) {
    changed("graph", colours);
    graph = drawGraph($("graph"), view);
    $("graph").setAttribute("aria-label", "Workflow graph");
  } else if (changed("graph", colours)) {
    graph.update(view);
  }
  $("graph-summary").textContent = graphSummary(view);
  const steps = view.steps.map((s) => ({ ...s, durationMs: s.status === "inProgress" ? null : s.durationMs }));
  if (changed("steps", steps)) renderSteps(view);
  else updateRunningDurations(view);
  if (changed("conversation", data.conversation)) renderConversation(data);
  if (changed("ledger", data.ledger)) renderLedger(data);
  if (changed("history", [data.history, data.execution])) renderHistory(data);
  $("live-note").textContent =
    status === "RUNNING" ? "The execution is running: this page updates every 2 seconds." : "";
}

function updateRunningDurations(view) {
  view.steps.forEach((step, index) => {
    if (step.status !== "inProgress") return;
    const cell = $("steps").tBodies[0].rows[index]?.cells[4];
    if (cell) cell.textContent = `${formatDuration(step.durationMs)} so far`;
  });
}

async function load() {
  let result;
  try {
    result = await request("GET", `signups/${encodeURIComponent(registrationId)}`);
  } catch {
    if (latest) {
      $("live-note").textContent = "Lost contact with the console; trying again…";
      return schedule(latest);
    }
    $("page-error").textContent = "Could not reach the console. Check your connection and reload the page.";
    $("loading").hidden = true;
    return;
  }
  $("loading").hidden = true;
  if (result.status === 401) {
    signedOut();
    return;
  }
  if (!result.ok || !result.data || !result.data.signup) {
    $("page-error").textContent = errorOf(result).message;
    if (!latest) return;
    return schedule(latest);
  }
  $("page-error").textContent = "";
  $("signup").hidden = false;
  render(result.data);
  schedule(result.data);
}

function schedule(data) {
  stopPolling();
  if (data.execution && data.execution.status === "RUNNING") pollTimer = setTimeout(load, POLL_MS);
}

function signedOut() {
  stopPolling();
  $("signup").hidden = true;
  $("signin-needed").hidden = false;
}

function stopPolling() {
  if (pollTimer) clearTimeout(pollTimer);
  pollTimer = null;
}

async function start() {
  renderLegend();
  $("zoom-in").addEventListener("click", () => graph && graph.zoomBy(1.2));
  $("zoom-out").addEventListener("click", () => graph && graph.zoomBy(1 / 1.2));
  $("zoom-fit").addEventListener("click", () => graph && graph.fit());
  $("download-evidence").addEventListener("click", downloadEvidence);
  $("sign-out").addEventListener("click", async () => {
    stopPolling();
    await signOut();
    location.href = "index.html";
  });
  if (!registrationId) {
    $("loading").hidden = true;
    $("page-error").textContent = "No sign-up was named: open one from the list of sign-ups.";
    return;
  }
  let session;
  try {
    session = await request("GET", "session");
  } catch {
    session = null;
  }
  if (session && session.status === 401) {
    $("loading").hidden = true;
    $("signin-needed").hidden = false;
    return;
  }
  if (session && session.ok && session.data) {
    showUser(session.data);
    role = session.data.role;
  }
  actions = setupActions({
    registrationId,
    onDone: (data) => {
      render(data);
      schedule(data);
    },
    onSignedOut: signedOut,
  });
  await load();
}

start();
