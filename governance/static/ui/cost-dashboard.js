/* Cost dashboard: spend per day (bars), running total (line) and the monthly budget (dashed line), with Chart.js. */
(function () {
  "use strict";

  function money(value) {
    return "$" + Number(value).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: value < 1 ? 4 : 2 });
  }

  function draw() {
    var canvas = document.getElementById("spend-chart");
    var source = document.getElementById("spend-data");
    if (!canvas || !source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var datasets = [
      { type: "bar", label: "Spend that day", data: data.daily, backgroundColor: "rgba(99, 102, 241, 0.75)", borderRadius: 4, yAxisID: "y", order: 2 },
      { type: "line", label: "Month to date", data: data.cumulative, borderColor: "#0ea5e9", backgroundColor: "rgba(14, 165, 233, 0.08)", fill: true, tension: 0.25, pointRadius: 0, borderWidth: 2, yAxisID: "y", order: 1 }
    ];
    if (data.budget !== null) {
      datasets.push({ type: "line", label: "Budget", data: data.labels.map(function () { return data.budget; }), borderColor: "#ef4444", borderDash: [6, 5], borderWidth: 2, pointRadius: 0, yAxisID: "y", order: 0 });
    }
    canvas.chart = new Chart(canvas, {
      data: { labels: data.labels, datasets: datasets },
      options: {
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12, usePointStyle: true } },
          tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + money(ctx.parsed.y); } } }
        },
        scales: {
          x: { grid: { display: false } },
          y: { beginAtZero: true, grid: { color: "#eef2f7" }, ticks: { callback: function (v) { return money(v); } } }
        }
      }
    });
    canvas.setAttribute("data-ready", "1");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
