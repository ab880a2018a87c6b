/*
 * Sign-up form: loads the consent disclosure, posts the sign-up, shows the server's
 * answer. The server is the authority on names, numbers and consent; the only checks made
 * here are "is the field empty" and "is the box ticked", so nobody waits for a round trip
 * to learn that. Every error sits beside its field (aria-describedby already points at it),
 * marks it aria-invalid, and the first invalid field takes the focus.
 */
(function () {
  "use strict";

  var ui = window.OptinUI;

  // Which field an error is about: the API names it in error.field; older answers are
  // mapped by their code. Anything else is shown as a form-level message.
  var FIELD_FOR_API_FIELD = { firstName: "firstName", phoneNumber: "phone", consent: "consent" };
  var FIELD_FOR_CODE = {
    missing_phone_number: "phone",
    invalid_phone_number: "phone",
    country_not_allowed: "phone",
    unsupported_line_type: "phone",
    consent_required: "consent",
  };

  var form = document.getElementById("signup-form");
  var heading = document.getElementById("heading");
  var formError = document.getElementById("form-error");
  var submit = document.getElementById("submit");
  var submitLabel = submit.textContent;
  var disclosureText = document.getElementById("disclosure-text");
  var disclosureVersion = document.getElementById("disclosure-version");
  var consentBox = document.getElementById("consent-box");
  var success = document.getElementById("success");
  var cooldown = {
    box: document.getElementById("cooldown"),
    sent: document.getElementById("cooldown-sent"),
    wait: document.getElementById("cooldown-wait"),
    where: document.getElementById("cooldown-where"),
    local: document.getElementById("cooldown-local"),
    link: document.getElementById("cooldown-link"),
    status: document.getElementById("cooldown-status"),
    timer: null,
    until: 0,
  };

  var fields = {
    firstName: {
      input: document.getElementById("first-name"),
      error: document.getElementById("first-name-error"),
    },
    phone: {
      input: document.getElementById("phone-number"),
      error: document.getElementById("phone-error"),
    },
    consent: {
      input: document.getElementById("consent"),
      error: document.getElementById("consent-error"),
    },
  };

  var rendered = null;

  // ---- The proof-of-work CAPTCHA (ALTCHA widget), when the server asks for one. ----
  var captcha = {
    on: false,
    field: document.getElementById("captcha-field"),
    widget: document.getElementById("captcha"),
    error: document.getElementById("captcha-error"),
  };
  var submitError = document.getElementById("submit-error");

  function startCaptcha() {
    return ui.requestJson("GET", "signups/challenge").then(function (result) {
      if (result.status !== 200 || !result.data || result.data.captcha === "off") return;
      captcha.on = true;
      captcha.widget.setAttribute("challengeurl", ui.apiUrl("signups/challenge"));
      captcha.field.hidden = false;
      solveCaptcha();
    });
  }

  function solveCaptcha() {
    // The widget's element is defined by a module script, which may run after this one.
    customElements.whenDefined("altcha-widget").then(function () {
      if (typeof captcha.widget.reset === "function") captcha.widget.reset();
      if (typeof captcha.widget.verify === "function") captcha.widget.verify();
    });
  }

  function captchaPayload() {
    var input = form.querySelector('input[name="altcha"]');
    return input && input.value ? input.value : null;
  }

  function loadDisclosure() {
    return ui
      .disclosure()
      .then(function (d) {
        if (rendered !== d) renderDisclosure(d);
        rendered = d;
        return d;
      })
      .catch(function (err) {
        disclosureText.textContent =
          "We couldn't load the terms for these texts, so you can't agree to them yet.";
        disclosureVersion.textContent = "";
        throw err;
      });
  }

  function renderDisclosure(d) {
    disclosureText.textContent = "";
    ui.appendLinkified(disclosureText, d.text);
    disclosureVersion.textContent = "Terms version " + d.version;
    if (d.programName) {
      heading.textContent = "Get text alerts from " + d.programName;
      document.title = "Sign up for " + d.programName + " texts";
    }
  }

  function setFieldError(name, message) {
    var f = fields[name];
    f.error.textContent = message || "";
    if (message) {
      f.input.setAttribute("aria-invalid", "true");
    } else {
      f.input.removeAttribute("aria-invalid");
    }
    if (name === "consent") consentBox.classList.toggle("is-invalid", Boolean(message));
  }

  function clearErrors() {
    Object.keys(fields).forEach(function (name) {
      setFieldError(name, "");
    });
    formError.textContent = "";
    captcha.error.textContent = "";
    submitError.textContent = "";
  }

  function setBusy(busy) {
    // A cooldown that started while busy keeps the button off until it ends.
    submit.disabled = busy || Boolean(cooldown.timer);
    submit.textContent = busy ? "Sending…" : submitLabel;
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function showServerError(result, typedPhone) {
    var err = ui.errorOf(result);
    var body = result.data && result.data.error;
    if (err.code === "resend_cooldown" && body && typeof body.retryAfterSeconds === "number") {
      startCooldown(body.retryAfterSeconds, typedPhone);
      return;
    }
    if (err.code === "rate_limited") {
      // Said beside the button the person just pressed: which limit, and when to come back.
      submitError.textContent = err.message;
      return;
    }
    if (body && body.field === "altcha") {
      captcha.error.textContent = err.message;
      return;
    }
    var field = (body && FIELD_FOR_API_FIELD[body.field]) || FIELD_FOR_CODE[err.code];
    if (field) {
      setFieldError(field, err.message || "Please check this field.");
      fields[field].input.focus();
    } else {
      formError.textContent = err.message || "Something went wrong. Please try again.";
    }
  }

  // ---- Resend cooldown: not an error, a wait; counted down, and the button comes back. ----

  function startCooldown(seconds, typedPhone) {
    var e164 = ui.guessE164(typedPhone);
    var where = e164 ? ui.formatPhone(e164) : "your phone";
    cooldown.until = Date.now() + seconds * 1000;
    cooldown.sent.textContent = "We texted " + where + " a moment ago. Reply YES to that text to confirm.";
    cooldown.link.href = ui.simulatorUrl(e164);
    ui.localRuntime.then(function (local) {
      cooldown.local.hidden = !local;
      cooldown.where.hidden = local;
    });
    cooldown.box.hidden = false;
    submit.disabled = true;
    cooldown.status.textContent =
      cooldown.sent.textContent + " You can ask for another text in " + Math.ceil(seconds) + " seconds.";
    tickCooldown();
    clearInterval(cooldown.timer);
    cooldown.timer = setInterval(tickCooldown, 250);
  }

  function tickCooldown() {
    var left = (cooldown.until - Date.now()) / 1000;
    if (left > 0) {
      cooldown.wait.textContent = "You can ask for another text in " + ui.formatClock(left) + ".";
      return;
    }
    clearInterval(cooldown.timer);
    cooldown.timer = null;
    cooldown.wait.textContent = "You can ask for another text now.";
    cooldown.status.textContent = "You can ask for another text now.";
    submit.disabled = false;
  }

  function clearCooldown() {
    clearInterval(cooldown.timer);
    cooldown.timer = null;
    cooldown.box.hidden = true;
    cooldown.status.textContent = "";
    submit.disabled = false;
  }

  function showSuccess(data, typedPhone) {
    // Prefer the number as the server normalised it; fall back to reading what was typed.
    var e164 = (data && data.phoneNumber) || ui.guessE164(typedPhone);
    var confirmed = data && data.status === "CONFIRMED";
    var successHeading = document.getElementById("success-heading");
    var next = document.getElementById("success-next");
    var link = document.getElementById("simulator-link");

    // The page words its own panel for the statuses it knows; the server's message is
    // written for API clients and is only a fallback here.
    var where = e164 ? ui.formatPhone(e164) : "your phone";
    var message;
    if (confirmed) {
      successHeading.textContent = "You're already subscribed";
      message = (e164 ? where : "This number") + " is already confirmed. There's nothing more to do.";
    } else if (data && data.status === "PENDING") {
      successHeading.textContent = data.resent ? "We've sent the text again" : "A text is on its way";
      message = "We've sent a text to " + where + ".";
    } else {
      successHeading.textContent = "Thanks";
      message = (data && data.message) || "We've received your sign-up.";
    }
    document.getElementById("success-message").textContent = message;
    next.hidden = !(data && data.status === "PENDING");
    link.href = ui.simulatorUrl(e164);

    form.hidden = true;
    success.hidden = false;
    success.focus();
  }

  function validateLocally() {
    var firstInvalid = null;
    if (!fields.firstName.input.value.trim()) {
      setFieldError("firstName", "Enter your first name.");
      firstInvalid = firstInvalid || fields.firstName.input;
    }
    if (!fields.phone.input.value.trim()) {
      setFieldError("phone", "Enter your mobile number.");
      firstInvalid = firstInvalid || fields.phone.input;
    }
    if (!fields.consent.input.checked) {
      setFieldError("consent", "Tick the box to agree to receive text messages; we can't sign you up without it.");
      firstInvalid = firstInvalid || fields.consent.input;
    }
    if (firstInvalid) firstInvalid.focus();
    return !firstInvalid;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (submit.disabled) return;
    clearErrors();
    clearCooldown();
    if (!validateLocally()) return;
    var solution = captcha.on ? captchaPayload() : null;
    if (captcha.on && !solution) {
      captcha.error.textContent =
        "Please wait a moment: the check that proves you are not a robot is still running.";
      return;
    }

    var typedPhone = fields.phone.input.value;
    setBusy(true);
    loadDisclosure()
      .catch(function () {
        var e = new Error("We couldn't load the terms for these texts. Check your connection and try again.");
        e.userFacing = true;
        throw e;
      })
      .then(function (d) {
        return ui.requestJson("POST", "signups", {
          firstName: fields.firstName.input.value.trim(),
          phoneNumber: typedPhone.trim(),
          consent: fields.consent.input.checked,
          disclosureVersion: d.version,
          page: location.href,
          altcha: solution || undefined,
        });
      })
      .then(function (result) {
        if (result.status === 200 || result.status === 202) {
          showSuccess(result.data, typedPhone);
        } else {
          showServerError(result, typedPhone);
        }
      })
      .catch(function (err) {
        formError.textContent =
          err && err.userFacing
            ? err.message
            : "We couldn't reach the server. Check your connection and try again.";
      })
      .finally(function () {
        setBusy(false);
        // A solution is good for one sign-up: get the next one ready.
        if (captcha.on) solveCaptcha();
      });
  });

  // Editing a field clears its message, so stale errors don't linger next to fixed input.
  fields.firstName.input.addEventListener("input", function () {
    setFieldError("firstName", "");
  });
  fields.phone.input.addEventListener("input", function () {
    setFieldError("phone", "");
    // The wait is for the number just texted; another number need not wait.
    if (!cooldown.box.hidden) clearCooldown();
  });
  fields.consent.input.addEventListener("change", function () {
    setFieldError("consent", "");
  });

  document.getElementById("start-over").addEventListener("click", function () {
    form.reset();
    // The widget clears itself with the form: solve a fresh challenge for the next number.
    if (captcha.on) solveCaptcha();
    clearErrors();
    clearCooldown();
    success.hidden = true;
    form.hidden = false;
    fields.firstName.input.focus();
  });

  loadDisclosure().catch(function () {
    formError.textContent = "We couldn't load the terms for these texts. Reload the page to try again.";
  });
  startCaptcha().catch(function () {
    // Without the challenge the server refuses the sign-up and says why beside the widget.
  });
})();
