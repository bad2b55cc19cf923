/*
 * Live progress of a scan on its page (no inline script, no reload while it runs).
 * The element [data-scan-progress] carries the API URL of the scan; this polls it every second
 * and updates the bar, the status, the findings count and the error. When the scan finishes,
 * the page reloads once so the findings table is rendered by the server.
 */
(function () {
  "use strict";

  var FINISHED = ["succeeded", "failed", "cancelled"];
  var INTERVAL_MS = 1000;

  function text(root, name, value) {
    var node = root.querySelector("[data-scan-" + name + "]");
    if (node) {
      node.textContent = value;
    }
    return node;
  }

  function update(root, scan) {
    var bar = root.querySelector("progress");
    if (bar) {
      bar.value = scan.progress;
      bar.setAttribute("aria-valuenow", String(scan.progress));
    }
    root.setAttribute("data-progress", String(scan.progress));
    root.setAttribute("data-status", scan.status);
    text(root, "progress-text", scan.progress + " %");
    var badge = text(document, "status", scan.status.charAt(0).toUpperCase() + scan.status.slice(1));
    if (badge) {
      badge.className = "badge badge--scan-" + scan.status;
    }
    text(document, "findings-count", String(scan.findings_count));
    text(document, "attempts", String(scan.attempts));
    var error = text(document, "error", scan.error || "");
    if (error) {
      error.hidden = !scan.error;
    }
  }

  function poll(root) {
    var url = root.getAttribute("data-scan-progress");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (scan) {
        update(root, scan);
        if (FINISHED.indexOf(scan.status) >= 0) {
          window.location.reload();
        } else {
          window.setTimeout(function () { poll(root); }, INTERVAL_MS);
        }
      })
      .catch(function () {
        // A network hiccup: try again a little later rather than give up.
        window.setTimeout(function () { poll(root); }, INTERVAL_MS * 3);
      });
  }

  function init() {
    var root = document.querySelector("[data-scan-progress]");
    if (root && FINISHED.indexOf(root.getAttribute("data-status")) < 0) {
      window.setTimeout(function () { poll(root); }, INTERVAL_MS);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
