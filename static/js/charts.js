// Draws every plotly figure on the page: a <div data-figure="ID"> holds the chart whose
// figure JSON (built by insights/charts.py) is in <script type="application/json" id="ID">.
(function () {
  "use strict";
  function draw(element) {
    var source = document.getElementById(element.dataset.figure);
    if (!source) { return; }
    var figure = JSON.parse(source.textContent);
    window.Plotly.newPlot(element, figure.data, figure.layout, {
      displaylogo: false,
      responsive: true,
      modeBarButtonsToRemove: ["sendDataToCloud"],
    }).then(function () { element.dataset.drawn = "true"; });
  }
  document.querySelectorAll("[data-figure]").forEach(draw);
})();
