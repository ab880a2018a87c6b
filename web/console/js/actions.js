/*
 * An agent's actions on one sign-up: resend the confirmation, cancel, expire now, opt out, and
 * repair a sign-up whose workflow ended while the number stayed pending. Each asks for a
 * reason in a modal <dialog> that says what will happen; the API writes the action, with who
 * and why, to the consent ledger and answers with the sign-up as it is afterwards.
 *
 * Which buttons show is a convenience: the API decides (409 not_pending, still_running, …),
 * and its refusal is shown in words in the dialog.
 */
import { el, errorOf, request } from "./api.js";

const $ = (id) => document.getElementById(id);

export const MAX_REASON = 500;

// What each action does, in the words the dialog uses. `when` says which sign-ups show the
// button: the contact's status and whether its execution is still running.
export const ACTIONS = Object.freeze({
  resend: {
    button: "Resend confirmation",
    title: "Resend the confirmation text?",
    what:
      "The confirmation text is sent to this number again. The sign-up stays pending and " +
      "waits for the reply as before; the number's send limits and cooldown still apply.",
    done: "The confirmation text was sent again.",
    when: (status, running) => status === "PENDING" && running,
  },
  cancel: {
    button: "Cancel sign-up",
    title: "Cancel this sign-up?",
    what:
      "Its workflow is stopped and the sign-up is marked expired, cancelled by you. The number " +
      "stays opted out and gets no more texts from this sign-up.",
    done: "The sign-up was cancelled.",
    when: (status, running) => status === "PENDING" && running,
  },
  expire: {
    button: "Expire now",
    title: "Expire this sign-up now?",
    what:
      "Its workflow is stopped and the sign-up is marked expired now, as if the confirmation " +
      "window had closed. The number stays opted out.",
    done: "The sign-up was expired.",
    when: (status, running) => status === "PENDING" && running,
  },
  "opt-out": {
    button: "Opt out",
    title: "Opt this number out?",
    what:
      "The number is recorded as opted out: no more texts are sent to it. If the sign-up is " +
      "pending, its workflow is stopped.",
    done: "The number was opted out.",
    when: (status) => status === "PENDING" || status === "CONFIRMED",
  },
  repair: {
    button: "Repair",
    title: "Repair this sign-up?",
    what:
      "Its workflow has ended, so no reply can confirm it. The sign-up is marked expired " +
      "(its execution ended) and the number stays opted out. The person can sign up again.",
    done: "The sign-up was repaired: it is now expired.",
    when: (status, running) => status === "PENDING" && !running,
  },
});

const ORDER = ["resend", "cancel", "expire", "opt-out", "repair"];

/** "1:05", "0:09": a countdown as a person reads it. */
export function formatCountdown(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** Seconds to wait from a 429 answer: the error's retryAfterSeconds, the body's, or Retry-After. */
export function retryAfterOf(result) {
  const data = (result && result.data) || {};
  const candidates = [data.error && data.error.retryAfterSeconds, data.retryAfterSeconds];
  if (result && result.headers) candidates.push(result.headers.get("Retry-After"));
  for (const value of candidates) {
    const n = Number(value);
    if (value !== undefined && value !== null && value !== "" && Number.isFinite(n) && n >= 0) return n;
  }
  return null;
}

/**
 * Wires the actions panel and dialog of signup.html. `registrationId` names the sign-up;
 * `onDone(data)` re-renders the page from the action's answer; `onSignedOut()` handles a 401.
 */
export function setupActions({ registrationId, onDone, onSignedOut }) {
  const panel = $("actions");
  const dialog = $("action-dialog");
  const form = $("action-form");
  const reason = $("action-reason");
  const reasonError = $("action-reason-error");
  const formError = $("action-error");
  const confirm = $("action-confirm");
  const result = $("action-result");
  const cooldown = $("action-cooldown");
  let current = null; // the action the dialog is open for
  let opener = null;
  let countdown = null;
  let busy = false;

  const buttons = {};
  for (const name of ORDER) {
    const button = el("button", {
      type: "button",
      id: `action-${name}`,
      class: name === "repair" ? "button" : "button button--secondary",
      "data-action": name,
      onclick: () => open(name, button),
    }, ACTIONS[name].button);
    buttons[name] = button;
  }
  $("action-buttons").replaceChildren(...ORDER.map((n) => buttons[n]));

  function stopCountdown() {
    if (countdown) clearInterval(countdown);
    countdown = null;
    cooldown.textContent = "";
  }

  function setReasonError(message) {
    reasonError.textContent = message;
    if (message) reason.setAttribute("aria-invalid", "true");
    else reason.removeAttribute("aria-invalid");
  }

  function open(name, from) {
    current = name;
    opener = from;
    const action = ACTIONS[name];
    $("action-title").textContent = action.title;
    $("action-what").textContent = action.what;
    confirm.textContent = action.button;
    confirm.disabled = false;
    formError.textContent = "";
    setReasonError("");
    reason.value = "";
    stopCountdown();
    dialog.showModal();
    reason.focus();
  }

  function close() {
    stopCountdown();
    if (dialog.open) dialog.close();
  }

  dialog.addEventListener("close", () => {
    stopCountdown();
    // Back to the button that opened it, if the page still shows it; else to the result.
    const target = opener && opener.isConnected && !opener.closest("[hidden]") ? opener : result;
    target.focus();
  });
  $("action-back").addEventListener("click", close);
  reason.addEventListener("input", () => setReasonError(""));

  // The sentence is said once (an alert); the ticking figure is a timer, which screen
  // readers do not announce every second.
  function startCooldown(message, seconds) {
    const until = Date.now() + seconds * 1000;
    confirm.disabled = true;
    formError.textContent = message;
    const tick = () => {
      const left = (until - Date.now()) / 1000;
      if (left <= 0) {
        stopCountdown();
        formError.textContent = "The wait is over: you can resend now.";
        confirm.disabled = false;
        return;
      }
      cooldown.textContent = `You can resend in ${formatCountdown(left)}.`;
    };
    tick();
    countdown = setInterval(tick, 1000);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy || !current) return;
    const why = reason.value.trim();
    formError.textContent = "";
    if (!why) {
      setReasonError("Say why: the reason is written to the consent record.");
      reason.focus();
      return;
    }
    if (why.length > MAX_REASON) {
      setReasonError(`Keep the reason to ${MAX_REASON} characters (it has ${why.length}).`);
      reason.focus();
      return;
    }
    const name = current;
    busy = true;
    confirm.disabled = true;
    let answer;
    try {
      answer = await request("POST", `signups/${encodeURIComponent(registrationId)}/${name}`, {
        reason: why,
      });
    } catch {
      formError.textContent = "Could not reach the console. Check your connection and try again.";
      confirm.disabled = false;
      busy = false;
      return;
    }
    busy = false;
    if (answer.status === 401) {
      close();
      onSignedOut();
      return;
    }
    if (answer.ok && answer.data && answer.data.signup) {
      // Re-rendered first, so the focus decision on close sees the buttons as they now are.
      onDone(answer.data);
      result.textContent = ACTIONS[name].done;
      close();
      return;
    }
    const error = errorOf(answer);
    if (error.code === "cooldown") {
      const wait = retryAfterOf(answer);
      if (wait !== null) {
        startCooldown(error.message, wait);
        return;
      }
    }
    if (error.code === "invalid_reason") {
      setReasonError(error.message);
      reason.focus();
    } else {
      formError.textContent = error.message;
    }
    confirm.disabled = false;
  });

  /** Shows the actions that fit the sign-up as it is now (for agents only). */
  function update(data, role) {
    if (role !== "agent" || !data || !data.signup) {
      panel.hidden = true;
      return;
    }
    const status = data.signup.status;
    const running = Boolean(data.execution && data.execution.status === "RUNNING");
    let any = false;
    for (const name of ORDER) {
      const shown = ACTIONS[name].when(status, running);
      buttons[name].hidden = !shown;
      any = any || shown;
    }
    $("repair-note").hidden = !ACTIONS.repair.when(status, running);
    $("no-actions").hidden = any;
    panel.hidden = false;
  }

  return { update };
}
