/*
 * Helpers shared by the sign-up form and the phone simulator.
 * Classic script (not an ES module) on purpose: modules refuse to load when a static
 * server sends an unexpected MIME type, and these pages must work from any plain server.
 */
(function () {
  "use strict";

  // API base: empty means "same place as this page". A deployment that serves the pages
  // from one origin and the API from another sets <meta name="optin-api-base" content="...">.
  function apiBase() {
    var meta = document.querySelector('meta[name="optin-api-base"]');
    var base = meta ? meta.getAttribute("content").trim() : "";
    if (base && base.charAt(base.length - 1) !== "/") base += "/";
    return base;
  }

  // Paths are relative ("signups", not "/signups") so the pages also work below a
  // path prefix such as an API Gateway stage ("/Prod/").
  function apiUrl(path) {
    return new URL(apiBase() + path, document.baseURI).toString();
  }

  /**
   * Fetch JSON. Resolves to {status, ok, data}; data is null when the body is not JSON.
   * Rejects only when the network fails, so callers can tell "server said no" apart from
   * "could not reach the server".
   */
  function requestJson(method, path, body, options) {
    var init = { method: method, headers: { Accept: "application/json" }, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (options && options.signal) init.signal = options.signal;
    return fetch(apiUrl(path), init).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try {
          data = text ? JSON.parse(text) : null;
        } catch (e) {
          data = null;
        }
        return { status: response.status, ok: response.ok, data: data };
      });
    });
  }

  /** The {code, message} of an error response, with a fallback for non-JSON failures. */
  function errorOf(result) {
    var err = result && result.data && result.data.error;
    if (err && typeof err === "object") {
      return { code: String(err.code || "error"), message: String(err.message || "") };
    }
    return {
      code: "http_" + (result ? result.status : 0),
      message: "Something went wrong on our side (HTTP " + (result ? result.status : "?") + "). Please try again.",
    };
  }

  /** +12063400123 -> "+1 (206) 340-0123"; other countries stay in E.164. */
  function formatPhone(e164) {
    if (typeof e164 !== "string") return "";
    var m = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(e164);
    return m ? "+1 (" + m[1] + ") " + m[2] + "-" + m[3] : e164;
  }

  /**
   * Best-effort E.164 from what a person typed, for links and sandbox addresses only.
   * The server decides what a valid number is; this never rejects anything it cannot
   * read, it just returns null.
   */
  function guessE164(input) {
    if (typeof input !== "string") return null;
    var trimmed = input.trim();
    var digits = trimmed.replace(/\D/g, "");
    if (!digits) return null;
    if (trimmed.charAt(0) === "+") return "+" + digits;
    if (trimmed.slice(0, 2) === "00") return "+" + digits.slice(2);
    if (digits.length === 10) return "+1" + digits;
    if (digits.length === 11 && digits.charAt(0) === "1") return "+" + digits;
    return null;
  }

  var timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
  var dateTimeFormat = new Intl.DateTimeFormat(undefined, {
    month: "short",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
  });

  /** Today's times as "2:31 PM", older ones with the date. */
  function formatTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    var now = new Date();
    return d.toDateString() === now.toDateString() ? timeFormat.format(d) : dateTimeFormat.format(d);
  }

  /**
   * Append text to an element, turning http(s) links into anchors. Builds DOM nodes
   * rather than HTML so message and disclosure text can never inject markup.
   */
  function appendLinkified(parent, text) {
    var re = /https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;
    var last = 0;
    var match;
    text = String(text);
    while ((match = re.exec(text)) !== null) {
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = document.createElement("a");
      a.href = match[0];
      a.textContent = match[0];
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      parent.appendChild(a);
      last = match.index + match[0].length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function simulatorUrl(e164) {
    return "simulator.html" + (e164 ? "?phone=" + encodeURIComponent(e164) : "");
  }

  /**
   * The phone simulator exists only on the local runtime, never on the deployed stack:
   * links to it stay hidden unless this origin's SMS sandbox answers. Resolves to whether
   * it did, for pages that word things differently there.
   */
  var localRuntime = requestJson("GET", "sandbox/conversations")
    .then(function (result) {
      return result.ok;
    })
    .catch(function () {
      return false;
    });
  localRuntime.then(function (local) {
    if (!local) return;
    var items = document.querySelectorAll("[data-local-only]");
    for (var i = 0; i < items.length; i++) items[i].hidden = false;
  });

  /**
   * GET /disclosure, once per page while it succeeds; a failure is not remembered, so the
   * next caller tries again. Every page that loads it shows the program's name and its
   * privacy-policy link in the header.
   */
  var disclosureLoaded = null;
  function disclosure() {
    if (disclosureLoaded) return disclosureLoaded;
    var request = requestJson("GET", "disclosure").then(function (result) {
      var d = result.data;
      if (!result.ok || !d || typeof d.text !== "string" || !d.version) {
        throw new Error("disclosure unavailable");
      }
      showProgram(d);
      return d;
    });
    disclosureLoaded = request;
    request.catch(function () {
      disclosureLoaded = null;
    });
    return request;
  }

  function showProgram(d) {
    var i;
    if (typeof d.programName === "string" && d.programName) {
      var names = document.querySelectorAll("[data-program-name]");
      for (i = 0; i < names.length; i++) names[i].textContent = d.programName;
    }
    // Only an https address becomes a link: the server checks it too, and a page must
    // never turn a configured "javascript:" into something to click.
    if (typeof d.privacyUrl === "string" && /^https:\/\/[^\s]+$/.test(d.privacyUrl)) {
      var links = document.querySelectorAll("[data-privacy-link]");
      for (i = 0; i < links.length; i++) links[i].href = d.privacyUrl;
      var boxes = document.querySelectorAll("[data-privacy]");
      for (i = 0; i < boxes.length; i++) boxes[i].hidden = false;
    }
  }

  /** 42 -> "0:42", 75 -> "1:15". */
  function formatClock(seconds) {
    var s = Math.max(0, Math.ceil(seconds));
    var rest = s % 60;
    return Math.floor(s / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  window.OptinUI = {
    apiUrl: apiUrl,
    requestJson: requestJson,
    errorOf: errorOf,
    formatPhone: formatPhone,
    guessE164: guessE164,
    formatTime: formatTime,
    appendLinkified: appendLinkified,
    simulatorUrl: simulatorUrl,
    disclosure: disclosure,
    formatClock: formatClock,
    localRuntime: localRuntime,
  };
  // Pages without a form of their own still show whose program this is.
  if (document.querySelector("[data-program-name]")) disclosure().catch(function () {});
})();
