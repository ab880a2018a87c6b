/*
 * From a state machine's definition (ASL) and an execution's GetExecutionHistory events to
 * what the console draws: the graph's nodes and edges, each state's status as AWS's console
 * colours it, the path taken, the step table and the event rows.
 *
 * Pure on purpose: no DOM, no cytoscape, no clock (callers pass `now`), so the browser tests
 * can import it and check it against hand-written histories.
 *
 * Only the top-level states are drawn; states inside a Parallel or Map are shown as that
 * one node (their events are attributed to it).
 */

export const STATUS = Object.freeze({
  NOT_STARTED: "notStarted",
  IN_PROGRESS: "inProgress",
  SUCCEEDED: "succeeded",
  FAILED: "failed",
  CAUGHT_ERROR: "caughtError",
  CANCELLED: "cancelled",
});

export const STATUS_LABELS = Object.freeze({
  notStarted: "Not started",
  inProgress: "In progress",
  succeeded: "Succeeded",
  failed: "Failed",
  caughtError: "Caught error",
  cancelled: "Cancelled",
});

// The order of the legend, as AWS's console lists it.
export const LEGEND = Object.freeze([
  STATUS.IN_PROGRESS,
  STATUS.SUCCEEDED,
  STATUS.FAILED,
  STATUS.CAUGHT_ERROR,
  STATUS.CANCELLED,
  STATUS.NOT_STARTED,
]);

export const START = "Start";
export const END = "End";
// Node ids of the start and end markers; chosen so no state name (1-80 characters of
// anything) is likely to clash, and checked anyway.
export const START_ID = "__start__";
export const END_ID = "__end__";

// History event types whose details say an attempt failed; the state's error is the last
// such failure not followed by a success (a retry that succeeded clears it).
const FAILURE_EVENTS = new Set([
  "TaskFailed",
  "TaskTimedOut",
  "TaskStartFailed",
  "TaskSubmitFailed",
  "LambdaFunctionFailed",
  "LambdaFunctionTimedOut",
  "LambdaFunctionScheduleFailed",
  "LambdaFunctionStartFailed",
  "ActivityFailed",
  "ActivityTimedOut",
  "ActivityScheduleFailed",
  "ParallelStateFailed",
  "MapStateFailed",
]);
const SUCCESS_EVENTS = new Set([
  "TaskSucceeded",
  "LambdaFunctionSucceeded",
  "ActivitySucceeded",
  "ParallelStateSucceeded",
  "MapStateSucceeded",
]);
// One of these per attempt: the count minus one is the retries.
const ATTEMPT_EVENTS = new Set(["TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"]);

function isStateEntered(type) {
  return typeof type === "string" && type.endsWith("StateEntered");
}

function isStateExited(type) {
  return typeof type === "string" && type.endsWith("StateExited");
}

/** The `...EventDetails` object of a history event, or {}. */
export function eventDetails(event) {
  for (const key of Object.keys(event || {})) {
    if (key.endsWith("EventDetails") && event[key] && typeof event[key] === "object") {
      return event[key];
    }
  }
  return {};
}

function describeChoice(rule) {
  // A short label for a Choice rule's edge: its variable and the comparison.
  if (!rule || typeof rule !== "object") return "";
  const variable = typeof rule.Variable === "string" ? rule.Variable : "";
  for (const key of Object.keys(rule)) {
    if (key === "Variable" || key === "Next" || key === "Comment") continue;
    const value = rule[key];
    if (value !== null && typeof value === "object") return variable ? `${variable} ${key}` : key;
    return `${variable} ${key} ${JSON.stringify(value)}`.trim();
  }
  return variable;
}

/**
 * The drawable graph of a definition: nodes (a Start marker, each top-level state, an End
 * marker) and edges (Next, Choice rules, Default, Catch), each edge with a stable id.
 */
export function graphOf(definition) {
  const states = (definition && definition.States) || {};
  const names = Object.keys(states);
  if (names.includes(START_ID) || names.includes(END_ID)) {
    throw new Error(`a state is named ${START_ID} or ${END_ID}`);
  }
  const nodes = [{ id: START_ID, label: START, type: "Start", marker: true }];
  for (const name of names) {
    const state = states[name] || {};
    nodes.push({ id: name, label: name, type: String(state.Type || "Unknown"), marker: false });
  }
  nodes.push({ id: END_ID, label: END, type: "End", marker: true });

  const edges = [];
  const seen = new Set();
  function add(source, target, kind, label) {
    if (!target || !(target in states || target === END_ID)) return;
    const id = `${source}->${target}#${kind}`;
    if (seen.has(id)) return;
    seen.add(id);
    edges.push({ id, source, target, kind, label: label || "" });
  }
  if (definition && definition.StartAt) add(START_ID, definition.StartAt, "start", "");
  for (const name of names) {
    const state = states[name] || {};
    if (state.Type === "Choice") {
      (state.Choices || []).forEach((rule) => add(name, rule && rule.Next, "choice", describeChoice(rule)));
      if (state.Default) add(name, state.Default, "default", "Default");
    } else if (state.Next) {
      add(name, state.Next, "next", "");
    }
    (state.Catch || []).forEach((catcher) => {
      const errors = Array.isArray(catcher && catcher.ErrorEquals) ? catcher.ErrorEquals.join(", ") : "";
      add(name, catcher && catcher.Next, "catch", errors);
    });
    if (state.End === true || state.Type === "Succeed" || state.Type === "Fail") {
      add(name, END_ID, "end", "");
    }
  }
  return { nodes, edges };
}

function findEdge(edges, source, target, caught) {
  const candidates = edges.filter((e) => e.source === source && e.target === target);
  if (!candidates.length) return null;
  // A state left through its Catch took the catch edge, even when a Next also leads there.
  const preferred = candidates.find((e) => (e.kind === "catch") === Boolean(caught));
  return (preferred || candidates[0]).id;
}

function ms(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/**
 * What an execution did, from its definition and history (events in id order, timestamps
 * as ISO-8601 strings). `executionStatus` (DescribeExecution's status) covers a history that
 * was cut short; `now` (ms) gives running steps their duration so far.
 *
 * Returns {graph, states: {name: {status, type, visits, ...last visit}}, steps: [visit],
 * path: {nodes: [ids], edges: [edge ids]}, execution: {status, startedAt, stoppedAt}}.
 */
export function executionView(definition, history, options = {}) {
  const graph = graphOf(definition);
  const definitions = (definition && definition.States) || {};
  const events = Array.isArray(history) ? history.slice().sort((a, b) => a.id - b.id) : [];
  const now = typeof options.now === "number" ? options.now : null;

  const steps = [];
  const open = new Map(); // state name -> its visit still running
  let current = null; // the visit that Task*/Lambda* events belong to
  let previous = null; // the last visit entered, for the edge taken into the next one
  const pathNodes = [];
  const pathEdges = [];
  let execStatus = options.executionStatus || null;
  let startedAt = null;
  let stoppedAt = null;
  let execError = null;

  function takeEdge(source, target, caught) {
    const id = findEdge(graph.edges, source, target, caught);
    if (id && !pathEdges.includes(id)) pathEdges.push(id);
  }

  function finishOpen(status, error, cause) {
    for (const visit of open.values()) {
      visit.status = status;
      if (error && !visit.error) {
        visit.error = error;
        visit.cause = cause || null;
      }
      if (stoppedAt !== null) visit.durationMs = Math.max(0, stoppedAt - visit.startedMs);
    }
    open.clear();
  }

  for (const event of events) {
    const type = event.type;
    const details = eventDetails(event);
    const at = ms(event.timestamp);
    if (type === "ExecutionStarted") {
      startedAt = at;
      execStatus = execStatus || "RUNNING";
      if (!pathNodes.includes(START_ID)) pathNodes.push(START_ID);
    } else if (isStateEntered(type)) {
      const name = details.name;
      if (!(name in definitions)) continue;
      const visit = {
        name,
        type: String(definitions[name].Type || type.replace(/StateEntered$/, "")),
        status: STATUS.IN_PROGRESS,
        enteredEventId: event.id,
        startedAt: event.timestamp,
        startedMs: at,
        durationMs: null,
        attempts: 0,
        retries: 0,
        error: null,
        cause: null,
        caught: false,
      };
      if (previous) takeEdge(previous.name, name, previous.caught);
      else takeEdge(START_ID, name, false);
      steps.push(visit);
      open.set(name, visit);
      current = visit;
      previous = visit;
      if (!pathNodes.includes(name)) pathNodes.push(name);
      if (visit.type === "Fail") {
        // A Fail state ends the execution where it stands; AWS draws it failed at once.
        visit.status = STATUS.FAILED;
        const def = definitions[name];
        visit.error = def.Error || null;
        visit.cause = def.Cause || null;
      }
    } else if (isStateExited(type)) {
      const name = details.name;
      const visit = open.get(name);
      if (!visit) continue;
      open.delete(name);
      visit.durationMs = at !== null && visit.startedMs !== null ? Math.max(0, at - visit.startedMs) : null;
      if (visit.status !== STATUS.FAILED) {
        visit.status = visit.error ? STATUS.CAUGHT_ERROR : STATUS.SUCCEEDED;
        visit.caught = Boolean(visit.error);
      }
      if (current === visit) current = null;
    } else if (ATTEMPT_EVENTS.has(type)) {
      if (current) {
        current.attempts += 1;
        current.retries = Math.max(0, current.attempts - 1);
      }
    } else if (FAILURE_EVENTS.has(type)) {
      if (current) {
        current.error = details.error || type;
        current.cause = details.cause || null;
      }
    } else if (SUCCESS_EVENTS.has(type)) {
      if (current) {
        current.error = null;
        current.cause = null;
      }
    } else if (type === "ExecutionSucceeded") {
      execStatus = "SUCCEEDED";
      stoppedAt = at;
      finishOpen(STATUS.SUCCEEDED);
    } else if (type === "ExecutionFailed") {
      execStatus = "FAILED";
      stoppedAt = at;
      execError = { error: details.error || null, cause: details.cause || null };
      finishOpen(STATUS.FAILED, details.error, details.cause);
    } else if (type === "ExecutionTimedOut") {
      execStatus = "TIMED_OUT";
      stoppedAt = at;
      execError = { error: details.error || "States.Timeout", cause: details.cause || null };
      finishOpen(STATUS.FAILED, details.error || "States.Timeout", details.cause);
    } else if (type === "ExecutionAborted") {
      execStatus = "ABORTED";
      stoppedAt = at;
      execError = { error: details.error || null, cause: details.cause || null };
      finishOpen(STATUS.CANCELLED);
    }
  }

  // DescribeExecution may know the end before the history page we hold shows it.
  if (execStatus === "ABORTED") finishOpen(STATUS.CANCELLED);
  else if (execStatus === "FAILED" || execStatus === "TIMED_OUT") finishOpen(STATUS.FAILED);

  const finished = execStatus && execStatus !== "RUNNING";
  if (finished && previous && (previous.type === "Succeed" || previous.type === "Fail" || definitions[previous.name].End === true)) {
    if (execStatus === "SUCCEEDED" || previous.type === "Fail") {
      takeEdge(previous.name, END_ID, false);
      pathNodes.push(END_ID);
    }
  }

  for (const step of steps) {
    if (step.status === STATUS.IN_PROGRESS && now !== null && step.startedMs !== null) {
      step.durationMs = Math.max(0, now - step.startedMs);
    }
  }

  const states = {};
  for (const node of graph.nodes) {
    states[node.id] = { status: STATUS.NOT_STARTED, type: node.type, visits: 0, last: null };
  }
  for (const step of steps) {
    const entry = states[step.name];
    entry.visits += 1;
    entry.last = step;
    entry.status = step.status;
  }
  if (startedAt !== null) states[START_ID].status = STATUS.SUCCEEDED;
  if (execStatus === "SUCCEEDED") states[END_ID].status = STATUS.SUCCEEDED;
  else if (execStatus === "FAILED" || execStatus === "TIMED_OUT") states[END_ID].status = STATUS.FAILED;
  else if (execStatus === "ABORTED") states[END_ID].status = STATUS.CANCELLED;

  return {
    graph,
    states,
    steps,
    path: { nodes: pathNodes, edges: pathEdges },
    execution: {
      status: execStatus,
      startedAt: startedAt === null ? null : new Date(startedAt).toISOString(),
      stoppedAt: stoppedAt === null ? null : new Date(stoppedAt).toISOString(),
      error: execError,
    },
  };
}

/**
 * The event history as rows: id, type, the step (state) it belongs to, time since the
 * execution started, and its details (input/output for the expandable row).
 */
export function historyRows(history) {
  const events = Array.isArray(history) ? history.slice().sort((a, b) => a.id - b.id) : [];
  let step = "";
  let startMs = null;
  return events.map((event) => {
    const details = eventDetails(event);
    const at = ms(event.timestamp);
    if (event.type === "ExecutionStarted") startMs = at;
    let stepName = step;
    if (isStateEntered(event.type)) {
      step = details.name || "";
      stepName = step;
    } else if (isStateExited(event.type)) {
      stepName = details.name || step;
      step = "";
    } else if (event.type && event.type.startsWith("Execution")) {
      stepName = "";
    }
    return {
      id: event.id,
      type: event.type,
      step: stepName,
      timestamp: event.timestamp,
      elapsedMs: startMs !== null && at !== null ? at - startMs : null,
      failed: FAILURE_EVENTS.has(event.type) || /^Execution(Failed|TimedOut|Aborted)$/.test(event.type),
      details,
    };
  });
}

/** "850 ms", "4.2 s", "3 min 5 s", "2 h 3 min", "1 d 2 h"; "" for null. */
export function formatDuration(msValue) {
  if (typeof msValue !== "number" || !Number.isFinite(msValue)) return "";
  if (msValue < 1000) return `${Math.round(msValue)} ms`;
  const s = msValue / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const totalS = Math.floor(s);
  const d = Math.floor(totalS / 86400);
  const h = Math.floor((totalS % 86400) / 3600);
  const m = Math.floor((totalS % 3600) / 60);
  const sec = totalS % 60;
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  return `${m} min ${sec} s`;
}
