/* Draws the dashboard figures. Each chart element names (data-figure) the json_script tag that
   holds its figure, built server-side by apps/dashboards/charts.py. A click on a bar or cell
   opens the filtered list whose URL the point carries in customdata. No inline code, no eval:
   runs under the strict Content-Security-Policy. */
(function () {
  "use strict";

  var CONFIG = { displayModeBar: false, responsive: true, displaylogo: false };

  function drawAll() {
    if (typeof window.Plotly === "undefined") {
      return;
    }
    document.querySelectorAll("[data-figure]").forEach(function (element) {
      var source = document.getElementById(element.dataset.figure);
      if (!source) {
        return;
      }
      var figure = JSON.parse(source.textContent);
      if (!figure.data.length) {
        element.hidden = true;
        return;
      }
      window.Plotly.newPlot(element, figure.data, figure.layout, CONFIG).then(function () {
        element.dataset.drawn = "true";
      });
      element.on("plotly_click", function (event) {
        var point = event.points && event.points[0];
        var target = point && point.customdata;
        // Only our own relative links: never navigate anywhere the figure did not say.
        if (typeof target === "string" && target.charAt(0) === "/" && target.charAt(1) !== "/") {
          window.location.assign(target);
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
