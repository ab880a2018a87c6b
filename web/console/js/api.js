/*
 * The console API (`/console/api`, JSON only), shared by the console's pages.
 *
 * Paths are relative to the page ("api/session" from /console/), so the console also works
 * below a prefix. State-changing calls always carry `Content-Type: application/json`: the
 * session function refuses any that does not (its cross-site protection, with the Origin
 * the browser adds itself).
 */

export function apiUrl(path) {
  return new URL(`api/${path}`, document.baseURI).toString();
}

/**
 * Resolves to {status, ok, data, headers}; data is null when the body is not JSON. Rejects only
 * when the network fails, so a caller can tell "the server said no" from "no answer".
 */
export async function request(method, path, body, { signal } = {}) {
  const init = { method, headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") {
    init.headers["Content-Type"] = "application/json";
    if (body !== undefined) init.body = JSON.stringify(body);
  }
  if (signal) init.signal = signal;
  const response = await fetch(apiUrl(path), init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  return { status: response.status, ok: response.ok, data, headers: response.headers };
}

/** The {code, message, field} of an error answer, with a sentence for non-JSON failures. */
export function errorOf(result) {
  const err = result && result.data && result.data.error;
  if (err && typeof err === "object") {
    return {
      code: String(err.code || "error"),
      message: String(err.message || "The server refused this request."),
      field: typeof err.field === "string" ? err.field : null,
    };
  }
  const status = result ? result.status : 0;
  return {
    code: `http_${status}`,
    message: `Something went wrong on the server (HTTP ${status || "?"}). Please try again.`,
    field: null,
  };
}

/**
 * Which of `fields` an error is about: its `field` if it names one; else an alias of its code;
 * else a field named as a word of its code ("invalid_status" → status); else the first field
 * its message names in quotes ("'to' must be a date like …" → to), as the console API words
 * its parameter errors.
 */
export function fieldFor(error, fields, aliases = {}) {
  if (error.field && fields.includes(error.field)) return error.field;
  if (aliases[error.code]) return aliases[error.code];
  const words = error.code.toLowerCase().split(/[^a-z]+/);
  const byCode = fields.find((f) => words.includes(f.toLowerCase()));
  if (byCode) return byCode;
  for (const quoted of error.message.matchAll(/'([A-Za-z]+)'/g)) {
    if (fields.includes(quoted[1])) return quoted[1];
  }
  return null;
}

const dateTime = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "numeric",
  minute: "2-digit",
  second: "2-digit",
  // Support staff and the people they help may be in different zones: say which one.
  timeZoneName: "short",
});

/** An ISO-8601 time as the reader's local date and time; "" for none. */
export function formatDateTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateTime.format(d);
}

/** +12063400123 -> "+1 (206) 340-0123"; masked or other numbers as given. */
export function formatPhone(value) {
  if (typeof value !== "string") return "";
  const m = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(value);
  return m ? `+1 (${m[1]}) ${m[2]}-${m[3]}` : value;
}

/** A small element builder: text is always set as text, never parsed as HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const STATUSES = Object.freeze(["PENDING", "CONFIRMED", "EXPIRED", "OPTED_OUT", "REJECTED"]);
export const STATUS_WORDS = Object.freeze({
  PENDING: "Pending",
  CONFIRMED: "Confirmed",
  EXPIRED: "Expired",
  OPTED_OUT: "Opted out",
  REJECTED: "Rejected",
});

export function statusBadge(status) {
  const known = STATUSES.includes(status);
  return el("span", {
    class: `badge${known ? ` badge--${status}` : ""}`,
    "data-status": status || "",
    text: STATUS_WORDS[status] || String(status || "Unknown"),
  });
}
