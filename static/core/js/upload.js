/*
 * Upload forms ([data-upload-form]): send the form with XMLHttpRequest so the user sees a
 * progress bar, then follow the server's redirect or show its error without reloading.
 *
 * The server answers requests with "Accept: application/json" with {"redirect": url} on success
 * and {"detail", "errors": {field: [messages]}} with a 4xx status on failure. Without JavaScript
 * (or without FormData/XHR) the form is an ordinary multipart POST and works the same.
 * No inline code: this file is loaded with <script src>, the size limit comes via json_script.
 */
(function () {
  "use strict";

  var REDIRECT_DELAY_MS = 600; // long enough to see "Upload complete" before the next page

  function csrfToken(form) {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) {
      return decodeURIComponent(match[1]);
    }
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function readLimit(form) {
    var node = document.getElementById(form.getAttribute("data-limit-id") || "");
    if (!node) {
      return null;
    }
    try {
      return JSON.parse(node.textContent).max_bytes || null;
    } catch (err) {
      return null;
    }
  }

  function formatBytes(bytes) {
    var units = ["bytes", "KB", "MB", "GB", "TB"];
    var value = bytes;
    var unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return (unit === 0 ? value : value.toFixed(1)) + " " + units[unit];
  }

  var STATUS_MESSAGES = {
    400: "The server refused the upload.",
    403: "You do not have permission to upload here.",
    404: "This object no longer exists or is not visible to you.",
    413: "The file is larger than the server accepts.",
    500: "The server failed while handling the upload. Please try again."
  };

  function UploadForm(form) {
    this.form = form;
    this.box = form.querySelector("[data-upload-progress]");
    this.bar = form.querySelector("progress");
    this.status = form.querySelector("[data-upload-status]");
    this.errorBox = form.querySelector("[data-upload-error]");
    this.submit = form.querySelector("[data-upload-submit]");
    this.limit = readLimit(form);
    form.addEventListener("submit", this.onSubmit.bind(this));
  }

  UploadForm.prototype.setState = function (state, text) {
    this.bar.setAttribute("data-state", state);
    this.form.setAttribute("data-upload-state", state);
    if (typeof text === "string") {
      this.status.textContent = text;
    }
  };

  UploadForm.prototype.clearErrors = function () {
    this.errorBox.hidden = true;
    this.errorBox.textContent = "";
    var stale = this.form.querySelectorAll("[data-upload-field-error], .field-error");
    Array.prototype.forEach.call(stale, function (node) {
      node.parentNode.removeChild(node);
    });
    var invalid = this.form.querySelectorAll("[aria-invalid=true]");
    Array.prototype.forEach.call(invalid, function (node) {
      node.removeAttribute("aria-invalid");
    });
    var marked = this.form.querySelectorAll(".field--error");
    Array.prototype.forEach.call(marked, function (node) {
      node.classList.remove("field--error");
    });
  };

  UploadForm.prototype.showErrors = function (detail, errors) {
    var self = this;
    var title = document.createElement("p");
    title.className = "alert__title";
    title.textContent = detail;
    this.errorBox.appendChild(title);
    Object.keys(errors || {}).forEach(function (name) {
      var field = self.form.querySelector("[data-field='" + name + "']");
      var input = field && field.querySelector("input, select, textarea");
      if (!field || !input) {
        return;
      }
      field.classList.add("field--error");
      input.setAttribute("aria-invalid", "true");
      errors[name].forEach(function (message) {
        var node = document.createElement("p");
        node.className = "field-error";
        node.setAttribute("data-upload-field-error", "");
        node.textContent = message;
        field.appendChild(node);
      });
    });
    this.errorBox.hidden = false;
    this.errorBox.focus();
  };

  UploadForm.prototype.fail = function (detail, errors) {
    this.setState("error", "Upload failed.");
    this.submit.disabled = false;
    this.showErrors(detail, errors);
  };

  UploadForm.prototype.oversized = function () {
    if (!this.limit) {
      return null;
    }
    var inputs = this.form.querySelectorAll("input[type=file]");
    for (var i = 0; i < inputs.length; i += 1) {
      var files = inputs[i].files || [];
      for (var j = 0; j < files.length; j += 1) {
        if (files[j].size > this.limit) {
          return files[j];
        }
      }
    }
    return null;
  };

  UploadForm.prototype.onSubmit = function (event) {
    if (!window.FormData || !window.XMLHttpRequest) {
      return; // the browser posts the form normally
    }
    event.preventDefault();
    if (this.submit.disabled) {
      return;
    }
    this.clearErrors();
    var tooBig = this.oversized();
    if (tooBig) {
      this.box.hidden = false;
      this.fail(
        tooBig.name + " is " + formatBytes(tooBig.size) + "; the limit is " +
          formatBytes(this.limit) + ".",
        {}
      );
      return;
    }
    var self = this;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", this.form.getAttribute("action") || window.location.href);
    xhr.setRequestHeader("X-CSRFToken", csrfToken(this.form));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        self.bar.max = e.total;
        self.bar.value = e.loaded;
        self.setState("uploading", "Uploading… " + Math.floor((100 * e.loaded) / e.total) + "%");
      }
    });
    xhr.upload.addEventListener("load", function () {
      self.bar.value = self.bar.max;
      self.setState("processing", "Uploaded. Checking the file on the server…");
    });
    xhr.addEventListener("load", function () {
      self.onResponse(xhr);
    });
    xhr.addEventListener("error", function () {
      self.fail("The connection failed before the server answered. Please try again.", {});
    });
    this.submit.disabled = true;
    this.bar.value = 0;
    this.box.hidden = false;
    this.setState("uploading", "Uploading… 0%");
    xhr.send(new FormData(this.form));
  };

  UploadForm.prototype.onResponse = function (xhr) {
    var body = null;
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (type.indexOf("application/json") !== -1) {
      try {
        body = JSON.parse(xhr.responseText);
      } catch (err) {
        body = null;
      }
    }
    if (xhr.status >= 200 && xhr.status < 300 && !(body && body.redirect)) {
      // Success is always answered in JSON; anything else is a redirect XHR followed by
      // itself, such as to the sign-in page after the session ended.
      this.fail("The server did not register the upload (your session may have ended). " +
        "Reload the page, sign in if asked, and try again.", {});
      return;
    }
    if (xhr.status >= 200 && xhr.status < 300) {
      var target = body.redirect;
      this.bar.value = this.bar.max;
      this.setState("done", "Upload complete. Opening the new version…");
      window.setTimeout(function () {
        window.location.assign(target);
      }, REDIRECT_DELAY_MS);
      return;
    }
    var detail = (body && body.detail) || STATUS_MESSAGES[xhr.status] ||
      "The server answered " + xhr.status + ".";
    this.fail(detail, (body && body.errors) || {});
  };

  function init() {
    var forms = document.querySelectorAll("form[data-upload-form]");
    Array.prototype.forEach.call(forms, function (form) {
      return new UploadForm(form);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
