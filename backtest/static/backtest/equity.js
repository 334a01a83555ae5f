// The backtest's equity curve (json_script "equity-data": times, equity at each hourly close, initial capital).
(function () {
  "use strict";
  const source = document.getElementById("equity-data");
  const canvas = document.getElementById("equity-chart");
  if (!source || !canvas || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const css = getComputedStyle(document.documentElement);
  const fg = css.getPropertyValue("--fg").trim() || "#e6e6e6";
  const accent = css.getPropertyValue("--accent").trim() || "#4fb3ff";
  const muted = css.getPropertyValue("--muted").trim() || "#a0a8b0";
  Chart.defaults.color = fg;
  Chart.defaults.borderColor = "rgba(160, 168, 176, 0.25)";
  new Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels.map((t) => t.slice(0, 16).replace("T", " ")),
      datasets: [
        {label: "Equity (USDT)", data: data.equity, borderColor: accent, backgroundColor: accent,
         borderWidth: 2, pointRadius: 0, tension: 0},
        {label: "Initial capital", data: data.labels.map(() => data.initial), borderColor: muted,
         borderDash: [5, 5], borderWidth: 1, pointRadius: 0},
      ],
    },
    options: {
      animation: false, maintainAspectRatio: false, interaction: {mode: "index", intersect: false},
      scales: {x: {ticks: {maxTicksLimit: 8, maxRotation: 0}}, y: {title: {display: true, text: "USDT"}}},
    },
  });
})();
