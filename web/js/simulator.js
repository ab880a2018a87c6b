/*
 * Phone simulator for the local SMS sandbox. Lists the numbers the sandbox has texted
 * (or been texted from), shows one conversation as a phone would, lets you reply as
 * that person, and shows the contact's status in the registration system.
 *
 * It polls rather than holding a stream open: the sandbox interface is plain JSON, and
 * a poll every second is plenty for a person watching a text arrive.
 */
(function () {
  "use strict";

  var ui = window.OptinUI;
  var POLL_VISIBLE_MS = 1000;
  // A hidden tab still catches up, but without hammering the runtime.
  var POLL_HIDDEN_MS = 10000;

  var STATUS_LABELS = {
    PENDING: "Pending confirmation",
    CONFIRMED: "Confirmed",
    EXPIRED: "Expired",
    OPTED_OUT: "Opted out",
    REJECTED: "Rejected",
  };

  var el = {
    list: document.getElementById("conversation-list"),
    empty: document.getElementById("conversations-empty"),
    sandboxError: document.getElementById("sandbox-error"),
    newForm: document.getElementById("new-conversation"),
    newNumber: document.getElementById("new-number"),
    newError: document.getElementById("new-number-error"),
    title: document.getElementById("phone-title"),
    subtitle: document.getElementById("phone-subtitle"),
    statusLabel: document.getElementById("status-label"),
    badge: document.getElementById("status-badge"),
    messages: document.getElementById("messages"),
    replyForm: document.getElementById("reply-form"),
    replyBody: document.getElementById("reply-body"),
    replySend: document.getElementById("reply-send"),
    replyError: document.getElementById("reply-error"),
    detail: document.getElementById("contact-detail"),
  };

  var state = {
    selected: null, // E.164 of the open conversation
    generation: 0, // bumped on every selection change; stale responses are dropped
    conversations: [],
    listSignature: "",
    renderedIds: [], // message ids shown, in order
    programNumber: null,
    programName: null,
    contactSignature: "",
    sending: false,
  };

  var timer = null;
  var polling = false;

  // ---- Conversation list ----

  function renderList() {
    var items = state.conversations.slice();
    var known = items.some(function (c) {
      return c.phoneNumber === state.selected;
    });
    // A number opened through "New conversation" has no messages yet; list it anyway so
    // the selection is visible.
    if (state.selected && !known) {
      items.unshift({ phoneNumber: state.selected, lastBody: "New conversation", messageCount: 0 });
    }
    var signature = JSON.stringify([items, state.selected]);
    if (signature === state.listSignature) return;
    state.listSignature = signature;

    var focused = document.activeElement;
    var focusedPhone = focused && el.list.contains(focused) ? focused.getAttribute("data-phone") : null;

    el.list.textContent = "";
    items.forEach(function (c) {
      var li = document.createElement("li");
      var button = document.createElement("button");
      button.type = "button";
      button.setAttribute("data-phone", c.phoneNumber);
      if (c.phoneNumber === state.selected) button.setAttribute("aria-current", "true");

      var top = document.createElement("span");
      top.className = "top";
      var number = document.createElement("span");
      number.className = "number";
      number.textContent = ui.formatPhone(c.phoneNumber);
      top.appendChild(number);
      if (c.lastMessageAt) {
        var time = document.createElement("time");
        time.dateTime = c.lastMessageAt;
        time.textContent = ui.formatTime(c.lastMessageAt);
        top.appendChild(time);
      }
      var preview = document.createElement("span");
      preview.className = "preview";
      preview.textContent = c.lastBody || "";

      button.appendChild(top);
      button.appendChild(preview);
      button.addEventListener("click", function () {
        select(c.phoneNumber);
      });
      li.appendChild(button);
      el.list.appendChild(li);
      if (focusedPhone === c.phoneNumber) button.focus();
    });
    el.empty.hidden = items.length > 0;
  }

  function loadConversations() {
    return ui.requestJson("GET", "sandbox/conversations").then(function (result) {
      if (!result.ok || !result.data || !Array.isArray(result.data.conversations)) {
        throw new Error("conversations unavailable");
      }
      state.conversations = result.data.conversations;
      renderList();
    });
  }

  // ---- One conversation ----

  function bubble(message) {
    var wrap = document.createElement("div");
    var inbound = message.direction === "inbound";
    wrap.className = "bubble " + (inbound ? "bubble--inbound" : "bubble--outbound");
    wrap.setAttribute("data-message-id", message.messageId);
    wrap.setAttribute("data-direction", message.direction);

    var body = document.createElement("div");
    body.className = "bubble__body";
    // Screen readers hear who wrote each text; sighted users see it from the side.
    var who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = inbound ? "You: " : (state.programName || "Program") + ": ";
    body.appendChild(who);
    ui.appendLinkified(body, message.body);

    var meta = document.createElement("time");
    meta.className = "bubble__meta";
    meta.dateTime = message.createdAt;
    meta.textContent = ui.formatTime(message.createdAt);

    wrap.appendChild(body);
    wrap.appendChild(meta);
    return wrap;
  }

  function showPlaceholder(text) {
    var current = el.messages.querySelector(".phone__placeholder");
    // Rewriting the same text every poll would make screen readers re-announce it.
    if (current && el.messages.children.length === 1 && current.textContent === text) return;
    el.messages.textContent = "";
    var p = document.createElement("p");
    p.className = "phone__placeholder";
    p.textContent = text;
    el.messages.appendChild(p);
  }

  function renderMessages(messages) {
    var ids = messages.map(function (m) {
      return m.messageId;
    });
    var isPrefix =
      state.renderedIds.length <= ids.length &&
      state.renderedIds.every(function (id, i) {
        return ids[i] === id;
      });
    var box = el.messages;
    var nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;

    if (!isPrefix || (state.renderedIds.length === 0 && ids.length > 0)) {
      // First load, or the history changed under us (e.g. the runtime was restarted
      // with a fresh data dir): redraw everything.
      box.textContent = "";
      state.renderedIds = [];
      nearBottom = true;
    }
    if (ids.length === 0) {
      if (state.renderedIds.length === 0) {
        showPlaceholder("No texts with this number yet. Send one below to text the program from it.");
      }
      return;
    }
    // Append only what is new, so earlier bubbles keep their place and don't re-animate.
    for (var i = state.renderedIds.length; i < messages.length; i++) {
      box.appendChild(bubble(messages[i]));
      state.renderedIds.push(messages[i].messageId);
    }
    if (nearBottom) box.scrollTop = box.scrollHeight;

    for (var j = messages.length - 1; j >= 0; j--) {
      var m = messages[j];
      var programNumber = m.direction === "outbound" ? m.from : m.to;
      if (programNumber) {
        state.programNumber = programNumber;
        break;
      }
    }
    renderSubtitle();
  }

  function renderSubtitle() {
    if (!state.selected) return;
    var parts = [];
    if (state.programName) parts.push(state.programName);
    if (state.programNumber) parts.push(ui.formatPhone(state.programNumber));
    el.subtitle.textContent = parts.length ? "Texting " + parts.join(" · ") : "Texting the program";
  }

  function renderContact(status, contact) {
    var signature = JSON.stringify([status, contact]);
    if (signature === state.contactSignature) return;
    state.contactSignature = signature;

    el.badge.hidden = false;
    el.badge.className = "badge";
    if (status === 404) {
      el.badge.setAttribute("data-status", "NONE");
      el.badge.textContent = "Not signed up";
      el.detail.textContent = "This number has never signed up. Texts from it change nothing.";
      return;
    }
    var code = String(contact.status || "");
    el.badge.setAttribute("data-status", code);
    el.badge.classList.add("badge--" + code);
    el.badge.textContent = STATUS_LABELS[code] || code;

    var bits = ["Opted in: " + (contact.optedIn ? "yes" : "no")];
    if (typeof contact.sendCount === "number") bits.push("confirmation texts sent: " + contact.sendCount);
    if (contact.updatedAt) bits.push("updated " + ui.formatTime(contact.updatedAt));
    el.detail.textContent = bits.join(" · ");
  }

  function loadSelected() {
    var phone = state.selected;
    if (!phone) return Promise.resolve();
    var generation = state.generation;
    var encoded = encodeURIComponent(phone);

    var messages = ui.requestJson("GET", "sandbox/messages?phoneNumber=" + encoded).then(function (result) {
      if (generation !== state.generation) return;
      if (!result.ok || !result.data || !Array.isArray(result.data.messages)) {
        throw new Error("messages unavailable");
      }
      renderMessages(result.data.messages);
    });
    var contact = ui.requestJson("GET", "sandbox/contacts/" + encoded).then(function (result) {
      if (generation !== state.generation) return;
      if (result.status === 404 || (result.ok && result.data)) {
        renderContact(result.status, result.data);
      }
      // Other failures: keep showing the last known status rather than flicker.
    });
    return Promise.all([messages, contact]);
  }

  // ---- Polling ----

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(poll, document.hidden ? POLL_HIDDEN_MS : POLL_VISIBLE_MS);
  }

  function poll() {
    if (polling) return;
    polling = true;
    clearTimeout(timer);
    Promise.all([loadConversations(), loadSelected()])
      .then(function () {
        el.sandboxError.textContent = "";
      })
      .catch(function () {
        el.sandboxError.textContent = "Can't reach the local SMS sandbox. Retrying…";
      })
      .finally(function () {
        polling = false;
        schedule();
      });
  }

  function pollSoon() {
    if (polling) {
      // A poll is in flight and may have started before our change; run another after it.
      clearTimeout(timer);
      timer = setTimeout(pollSoon, 100);
      return;
    }
    poll();
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) pollSoon();
  });

  // ---- Selection and replies ----

  function select(phone) {
    if (phone === state.selected) return;
    state.selected = phone;
    state.generation += 1;
    state.renderedIds = [];
    state.programNumber = null;
    state.contactSignature = "";

    el.title.textContent = ui.formatPhone(phone);
    el.statusLabel.textContent = "Status";
    el.badge.hidden = true;
    el.detail.textContent = "";
    el.replyError.textContent = "";
    el.replyBody.disabled = false;
    el.replySend.disabled = false;
    el.replyBody.placeholder = "Text message";
    el.replyBody.setAttribute("aria-label", "Reply from " + ui.formatPhone(phone));
    renderSubtitle();
    showPlaceholder("Loading…");
    renderList();

    var url = new URL(location.href);
    url.searchParams.set("phone", phone);
    history.replaceState(null, "", url.toString());
    document.title = ui.formatPhone(phone) + " · Phone simulator";
    pollSoon();
  }

  el.newForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var phone = ui.guessE164(el.newNumber.value);
    if (!phone) {
      el.newError.textContent = "Enter the number with its country code, for example +1 206 340 0199.";
      el.newNumber.setAttribute("aria-invalid", "true");
      el.newNumber.focus();
      return;
    }
    el.newError.textContent = "";
    el.newNumber.removeAttribute("aria-invalid");
    el.newNumber.value = "";
    select(phone);
    el.replyBody.focus();
  });

  el.newNumber.addEventListener("input", function () {
    el.newError.textContent = "";
    el.newNumber.removeAttribute("aria-invalid");
  });

  el.replyForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!state.selected || state.sending) return;
    var text = el.replyBody.value;
    if (!text.trim()) {
      el.replyError.textContent = "Type a message first.";
      el.replyBody.setAttribute("aria-invalid", "true");
      el.replyBody.focus();
      return;
    }
    state.sending = true;
    el.replySend.disabled = true;
    el.replyError.textContent = "";
    ui.requestJson("POST", "sandbox/inbound", { from: state.selected, body: text })
      .then(function (result) {
        if (result.ok) {
          el.replyBody.value = "";
          pollSoon();
        } else {
          el.replyError.textContent = ui.errorOf(result).message || "The sandbox refused that text.";
        }
      })
      .catch(function () {
        el.replyError.textContent = "Couldn't reach the local SMS sandbox. Try again.";
      })
      .finally(function () {
        state.sending = false;
        el.replySend.disabled = false;
        el.replyBody.focus();
      });
  });

  el.replyBody.addEventListener("input", function () {
    el.replyError.textContent = "";
    el.replyBody.removeAttribute("aria-invalid");
  });

  // ---- Start ----

  ui.disclosure()
    .then(function (d) {
      if (d.programName) {
        state.programName = d.programName;
        renderSubtitle();
      }
    })
    .catch(function () {
      // The program name is decoration here; the simulator works without it.
    });

  var requested = new URLSearchParams(location.search).get("phone");
  if (requested) {
    var phone = /^\+\d+$/.test(requested.trim()) ? requested.trim() : ui.guessE164(requested);
    if (phone) select(phone);
  }
  if (!state.selected) poll();
})();
