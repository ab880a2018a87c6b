/*
 * The console's front page: the sign-in form when there is no session, else the sign-ups
 * list with its search, filters and cursor paging. Filters live in the address bar, so a
 * search can be bookmarked, shared with a colleague, and undone with Back.
 */
import {
  el,
  errorOf,
  fieldFor,
  formatDateTime,
  formatPhone,
  request,
  statusBadge,
  STATUSES,
  STATUS_WORDS,
} from "./api.js";
import { OUTCOMES, showUser, signOut } from "./session.js";

const FILTERS = ["q", "status", "outcome", "channel", "from", "to"];
// The order: newest first, or (PENDING only) the soonest to expire first. Not a form field:
// the quick link sets it, and a search for another status drops it.
const SORTS = { expiry: "Pending sign-ups, soonest to expire first" };
const SORT_REFUSED = ["unsupported_sort", "invalid_sort"];
// Codes of the console API that name no field in their wording.
const FILTER_ALIASES = { invalid_query: "q", invalid_registration_id: "q" };
const PAGE_SIZE = 25;

const $ = (id) => document.getElementById(id);
const loading = $("loading");
const pageError = $("page-error");

function show(section) {
  loading.hidden = true;
  $("signin").hidden = section !== "signin";
  $("signups").hidden = section !== "signups";
}

// --- field errors, shared by both forms ---

function setFieldError(name, message) {
  const input = $(name);
  const slot = $(`${name}-error`);
  slot.textContent = message || "";
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

function clearErrors(names, formError) {
  names.forEach((n) => setFieldError(n, ""));
  formError.textContent = "";
}

function showError(result, names, formError, aliases) {
  const error = errorOf(result);
  const field = fieldFor(error, names, aliases);
  if (field) {
    setFieldError(field, error.message);
    $(field).focus();
  } else {
    formError.textContent = error.message;
  }
}

// --- sign in ---

const SIGNIN_FIELDS = ["username", "password"];
// The session function does not say which part of the credentials was wrong; the message
// goes beside the password, where the person will retype.
const SIGNIN_ALIASES = { invalid_credentials: "password" };

function showSignIn() {
  show("signin");
  $("user-bar").hidden = true;
  document.title = "Sign in · Support console";
  $("username").focus();
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const formError = $("signin-error");
  clearErrors(SIGNIN_FIELDS, formError);
  const username = $("username").value.trim();
  const password = $("password").value;
  let first = null;
  if (!username) {
    setFieldError("username", "Enter your username.");
    first = first || "username";
  }
  if (!password) {
    setFieldError("password", "Enter your password.");
    first = first || "password";
  }
  if (first) {
    $(first).focus();
    return;
  }
  const button = $("signin-submit");
  button.disabled = true;
  try {
    const result = await request("POST", "session", { username, password });
    if (result.ok && result.data) {
      $("password").value = "";
      startList(result.data);
    } else {
      showError(result, SIGNIN_FIELDS, formError, SIGNIN_ALIASES);
    }
  } catch {
    formError.textContent = "Could not reach the console. Check your connection and try again.";
  } finally {
    button.disabled = false;
  }
});

for (const name of SIGNIN_FIELDS) {
  $(name).addEventListener("input", () => setFieldError(name, ""));
}

$("sign-out").addEventListener("click", async () => {
  await signOut();
  showSignIn();
});

// --- the list ---

let pages = [null]; // the cursor of each page seen so far; page 1 has none
let pageIndex = 0;
let inFlight = null;

function fillSelect(id, entries) {
  const select = $(id);
  for (const [value, text] of entries) select.append(el("option", { value, text }));
}
fillSelect(
  "status",
  STATUSES.map((s) => [s, STATUS_WORDS[s]]),
);
fillSelect("outcome", OUTCOMES);

function filtersFromUrl() {
  const params = new URLSearchParams(location.search);
  const filters = {};
  for (const name of FILTERS) filters[name] = params.get(name) || "";
  const sort = params.get("sort") || "";
  filters.sort = SORTS[sort] ? sort : "";
  return filters;
}

function filtersFromForm() {
  const filters = {};
  for (const name of FILTERS) filters[name] = $(name).value.trim();
  return filters;
}

function fillForm(filters) {
  for (const name of FILTERS) $(name).value = filters[name] || "";
}

function filterParams(filters) {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (filters[name]) params.set(name, filters[name]);
  if (filters.sort) params.set("sort", filters.sort);
  return params;
}

function query(filters, cursor) {
  const params = filterParams(filters);
  params.set("limit", String(PAGE_SIZE));
  if (cursor) params.set("cursor", cursor);
  return params.toString();
}

/** The CSV of the whole filtered list (the API pages through it), as a link to download. */
function csvHref(filters) {
  const params = filterParams(filters);
  params.set("format", "csv");
  return `api/signups?${params.toString()}`;
}

const QUICK_LISTS = {
  "quick-expiring": { status: "PENDING", sort: "expiry" },
  "quick-expired": { status: "EXPIRED" },
  "quick-all": {},
};

/** Marks the quick list the filters are exactly, so a reader knows which list this is. */
function markQuickList(filters) {
  for (const [id, wanted] of Object.entries(QUICK_LISTS)) {
    const same = [...FILTERS, "sort"].every((n) => (filters[n] || "") === (wanted[n] || ""));
    if (same) $(id).setAttribute("aria-current", "page");
    else $(id).removeAttribute("aria-current");
  }
}

// Why the list is not in the order asked for: shown while the list is the one it was about.
let sortRefusal = null; // {key, message}
const listKey = (filters) => filterParams({ ...filters, sort: "" }).toString();

// --- expiry ---

/** What is left of a confirmation window, as a person reads it. */
export function timeLeft(ms) {
  if (ms <= 0) return "Window closed: expiring";
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${h} h left`;
  if (h) return `${h} h ${m} min left`;
  return `${m} min ${String(s % 60).padStart(2, "0")} s left`;
}

function tickExpiries() {
  const now = Date.now();
  for (const node of document.querySelectorAll("#results [data-expires]")) {
    const left = timeLeft(Date.parse(node.dataset.expires) - now);
    if (node.textContent !== left) node.textContent = left;
  }
}
setInterval(tickExpiries, 1000);

function expiryCell(item) {
  if (item.status === "PENDING" && item.expiresAt) {
    return cell(
      el("span", { class: "time-left", "data-expires": item.expiresAt }, timeLeft(Date.parse(item.expiresAt) - Date.now())),
      el("span", { class: "cell-note" }, "until ", el("time", { datetime: item.expiresAt }, formatDateTime(item.expiresAt))),
    );
  }
  if (item.status === "EXPIRED" && item.expiredAt) {
    const parts = [el("span", {}, "Expired ", el("time", { datetime: item.expiredAt }, formatDateTime(item.expiredAt)))];
    const text = item.unansweredText;
    if (text && text.body) {
      parts.push(
        el(
          "details",
          { class: "unanswered" },
          el("summary", {}, "Unanswered text"),
          el("p", { class: "cell-note" }, "Sent ", el("time", { datetime: text.at }, formatDateTime(text.at))),
          el("blockquote", { class: "quote", text: text.body }),
        ),
      );
    }
    return cell(...parts);
  }
  return cell("—");
}

function cell(...children) {
  return el("td", {}, ...children);
}

function row(item) {
  const link = el("a", { href: `signup.html?id=${encodeURIComponent(item.registrationId)}` }, formatPhone(item.phoneNumber));
  const outcome = item.outcome || {};
  return el(
    "tr",
    { "data-registration-id": item.registrationId },
    el("th", { scope: "row" }, link),
    cell(statusBadge(item.status)),
    cell(outcome.summary || ""),
    cell(item.channel === "api" ? "Partner API" : item.channel === "web" ? "Web form" : item.channel || ""),
    cell(el("time", { datetime: item.createdAt }, formatDateTime(item.createdAt))),
    cell(el("time", { datetime: item.updatedAt }, formatDateTime(item.updatedAt))),
    expiryCell(item),
  );
}

async function loadPage() {
  const filters = filtersFromUrl();
  fillForm(filters);
  const formError = $("filters-error");
  clearErrors(FILTERS, formError);
  if (sortRefusal && sortRefusal.key !== listKey(filters)) sortRefusal = null;
  $("sort-note").textContent = sortRefusal ? sortRefusal.message : "";
  if (inFlight) inFlight.abort();
  inFlight = new AbortController();
  const count = $("result-count");
  count.textContent = "Loading sign-ups…";
  $("csv-link").href = csvHref(filters);
  $("results-caption").textContent = SORTS[filters.sort] || "Sign-ups, newest first";
  markQuickList(filters);
  let result;
  try {
    result = await request("GET", `signups?${query(filters, pages[pageIndex])}`, undefined, {
      signal: inFlight.signal,
    });
  } catch (error) {
    if (error.name === "AbortError") return;
    count.textContent = "";
    formError.textContent = "Could not reach the console. Check your connection and try again.";
    return;
  }
  if (result.status === 401) {
    showSignIn();
    return;
  }
  const body = $("results").tBodies[0];
  if (filters.sort && result.status === 400 && SORT_REFUSED.includes(errorOf(result).code)) {
    // An API that cannot order by expiry still lists the pending sign-ups, newest first.
    const params = listKey(filters);
    sortRefusal = { key: params, message: `${errorOf(result).message} Showing the newest change first.` };
    history.replaceState(null, "", params ? `?${params}` : location.pathname);
    return loadPage();
  }
  if (!result.ok || !result.data || !Array.isArray(result.data.items)) {
    count.textContent = "";
    body.replaceChildren();
    showError(result, FILTERS, formError, FILTER_ALIASES);
    return;
  }
  const { items, nextCursor } = result.data;
  body.replaceChildren(...items.map(row));
  if (!items.length) {
    body.append(el("tr", {}, el("td", { colspan: "7", class: "empty-note", text: "No sign-ups match." })));
  }
  if (nextCursor) pages[pageIndex + 1] = nextCursor;
  else pages = pages.slice(0, pageIndex + 1);
  const first = pageIndex * PAGE_SIZE + 1;
  count.textContent = items.length
    ? `Showing ${first}–${first + items.length - 1}${nextCursor ? "" : " (last page)"}`
    : "No sign-ups match these filters.";
  $("page-number").textContent = `Page ${pageIndex + 1}`;
  $("first-page").disabled = pageIndex === 0;
  $("prev-page").disabled = pageIndex === 0;
  $("next-page").disabled = !nextCursor;
}

function resetPaging() {
  pages = [null];
  pageIndex = 0;
}

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  const filters = filtersFromForm();
  const sort = filtersFromUrl().sort;
  // The expiry order is for pending sign-ups only: another status goes back to newest first.
  if (sort && filters.status === "PENDING") filters.sort = sort;
  const search = filterParams(filters).toString();
  history.pushState(null, "", search ? `?${search}` : location.pathname);
  resetPaging();
  loadPage();
});

$("clear").addEventListener("click", () => {
  history.pushState(null, "", location.pathname);
  resetPaging();
  loadPage();
  $("q").focus();
});

for (const name of FILTERS) {
  $(name).addEventListener("input", () => setFieldError(name, ""));
}

$("next-page").addEventListener("click", () => {
  pageIndex += 1;
  loadPage();
});
$("prev-page").addEventListener("click", () => {
  pageIndex = Math.max(0, pageIndex - 1);
  loadPage();
});
$("first-page").addEventListener("click", () => {
  pageIndex = 0;
  loadPage();
});

window.addEventListener("popstate", () => {
  if ($("signups").hidden) return;
  resetPaging();
  loadPage();
});

function startList(user) {
  showUser(user);
  show("signups");
  document.title = "Sign-ups · Support console";
  resetPaging();
  loadPage();
}

async function start() {
  let result;
  try {
    result = await request("GET", "session");
  } catch {
    loading.hidden = true;
    pageError.textContent = "Could not reach the console. Check your connection and reload the page.";
    return;
  }
  if (result.status === 401) showSignIn();
  else if (result.ok && result.data) startList(result.data);
  else {
    loading.hidden = true;
    pageError.textContent = errorOf(result).message;
  }
}

start();
