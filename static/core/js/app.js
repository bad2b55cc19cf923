/*
 * Small behaviours shared by every page. Loaded with <script src> (no inline code).
 * - form[data-confirm]: ask before a destructive POST (retire, remove); the server still decides.
 * - the user menu (<details>) closes when the user clicks elsewhere or presses Escape.
 */
(function () {
  "use strict";

  function init() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      var question = form.getAttribute && form.getAttribute("data-confirm");
      if (question && !window.confirm(question)) {
        event.preventDefault();
      }
    });

    var menu = document.querySelector(".user-menu");
    if (menu) {
      document.addEventListener("click", function (event) {
        if (menu.open && !menu.contains(event.target)) {
          menu.open = false;
        }
      });
      document.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && menu.open) {
          menu.open = false;
          menu.querySelector("summary").focus();
        }
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
