/*
 * Sign-up form: loads the consent disclosure, posts the sign-up, shows the server's
 * answer. The server is the authority on numbers and consent; the only checks made here
 * are "is the field empty", so nobody waits for a round trip to learn that.
 */
(function () {
  "use strict";

  var ui = window.OptinUI;

  // Which field an error code is about. Anything else is shown as a form-level message.
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

  var disclosure = null;
  var disclosureRequest = null;

  function loadDisclosure() {
    if (disclosure) return Promise.resolve(disclosure);
    if (disclosureRequest) return disclosureRequest;
    disclosureRequest = ui
      .requestJson("GET", "disclosure")
      .then(function (result) {
        var d = result.data;
        if (!result.ok || !d || typeof d.text !== "string" || !d.version) {
          throw new Error("disclosure unavailable");
        }
        disclosure = d;
        renderDisclosure(d);
        return d;
      })
      .catch(function (err) {
        disclosureText.textContent =
          "We couldn't load the terms for these texts, so you can't agree to them yet.";
        disclosureVersion.textContent = "";
        throw err;
      })
      .finally(function () {
        disclosureRequest = null;
      });
    return disclosureRequest;
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
  }

  function setBusy(busy) {
    submit.disabled = busy;
    submit.textContent = busy ? "Sending…" : submitLabel;
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function showServerError(result) {
    var err = ui.errorOf(result);
    var field = FIELD_FOR_CODE[err.code];
    var body = result.data && result.data.error;
    // An error may name its field; honour it when it is one of ours.
    if (!field && body && body.field === "firstName") field = "firstName";
    if (field) {
      setFieldError(field, err.message || "Please check this field.");
      fields[field].input.focus();
    } else {
      formError.textContent = err.message || "Something went wrong. Please try again.";
    }
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
    if (firstInvalid) firstInvalid.focus();
    return !firstInvalid;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (submit.disabled) return;
    clearErrors();
    if (!validateLocally()) return;

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
        });
      })
      .then(function (result) {
        if (result.status === 200 || result.status === 202) {
          showSuccess(result.data, typedPhone);
        } else {
          showServerError(result);
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
      });
  });

  // Editing a field clears its message, so stale errors don't linger next to fixed input.
  fields.firstName.input.addEventListener("input", function () {
    setFieldError("firstName", "");
  });
  fields.phone.input.addEventListener("input", function () {
    setFieldError("phone", "");
  });
  fields.consent.input.addEventListener("change", function () {
    setFieldError("consent", "");
  });

  document.getElementById("start-over").addEventListener("click", function () {
    form.reset();
    clearErrors();
    success.hidden = true;
    form.hidden = false;
    fields.firstName.input.focus();
  });

  loadDisclosure().catch(function () {
    formError.textContent = "We couldn't load the terms for these texts. Reload the page to try again.";
  });
})();
