// The /performance charts, drawn from the page's own numbers (json_script "performance-data"); the tables
// under each chart hold the same numbers for readers without JavaScript or a screen.
(function () {
  "use strict";
  const source = document.getElementById("performance-data");
  if (!source || typeof Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const css = getComputedStyle(document.documentElement);
  const fg = css.getPropertyValue("--fg").trim() || "#e6e6e6";
  const accent = css.getPropertyValue("--accent").trim() || "#4fb3ff";
  const grid = "rgba(160, 168, 176, 0.25)";
  Chart.defaults.color = fg;
  Chart.defaults.borderColor = grid;

  // Chart.js has no error bars: this plugin draws each point's 95 % interval (dataset.intervals[i] =
  // [low, high], in the value axis' units) as a whisker with caps, and dataset.notes[i] (the n) beside it.
  const errorBars = {
    id: "errorBars",
    afterDatasetsDraw(chart) {
      const ctx = chart.ctx;
      const horizontal = chart.options.indexAxis === "y";
      chart.data.datasets.forEach((dataset, d) => {
        const meta = chart.getDatasetMeta(d);
        if (!dataset.intervals || meta.hidden) return;
        const scale = chart.scales[horizontal ? meta.xAxisID : meta.yAxisID];
        ctx.save();
        ctx.strokeStyle = fg;
        ctx.fillStyle = fg;
        ctx.lineWidth = 1.5;
        ctx.font = "12px system-ui, sans-serif";
        meta.data.forEach((element, i) => {
          const interval = dataset.intervals[i];
          if (!interval) return;
          const low = scale.getPixelForValue(interval[0]);
          const high = scale.getPixelForValue(interval[1]);
          const at = horizontal ? element.y : element.x;
          const cap = 5;
          ctx.beginPath();
          if (horizontal) {
            ctx.moveTo(low, at); ctx.lineTo(high, at);
            ctx.moveTo(low, at - cap); ctx.lineTo(low, at + cap);
            ctx.moveTo(high, at - cap); ctx.lineTo(high, at + cap);
          } else {
            ctx.moveTo(at, low); ctx.lineTo(at, high);
            ctx.moveTo(at - cap, low); ctx.lineTo(at + cap, low);
            ctx.moveTo(at - cap, high); ctx.lineTo(at + cap, high);
          }
          ctx.stroke();
          const note = dataset.notes && dataset.notes[i];
          if (note) {
            if (horizontal) { ctx.textBaseline = "middle"; ctx.fillText(note, high + 6, at); }
            else {  // above the whisker, or below it when that would leave the chart area
              ctx.textAlign = "center";
              ctx.fillText(note, at, high - 8 < chart.chartArea.top + 12 ? low + 16 : high - 8);
            }
          }
        });
        ctx.restore();
      });
    },
  };
  const percentAxis = (title) => ({
    min: 0, max: 100, title: { display: true, text: title }, ticks: { callback: (v) => v + "%" },
  });
  const interval = (ci) => (ci ? " (95 % interval " + ci[0] + "–" + ci[1] + "%)" : "");

  // Win rate per scanner bucket: horizontal bars (labels stay readable at phone width), n in each label.
  new Chart(document.getElementById("win-rate-chart"), {
    type: "bar",
    data: {
      labels: data.buckets.map((b) => b.label + " · n=" + b.n),
      datasets: [{
        label: "Win rate at " + data.horizon, data: data.buckets.map((b) => b.win_rate),
        intervals: data.buckets.map((b) => b.ci), backgroundColor: accent,
      }],
    },
    options: {
      indexAxis: "y", maintainAspectRatio: false, animation: false,
      scales: { x: percentAxis("Win rate (bar) and 95 % interval (whisker)") },
      plugins: { legend: { display: false }, tooltip: { callbacks: {
        label: (c) => c.raw === null ? "no outcome (n=0)"
          : c.raw + "%" + interval(data.buckets[c.dataIndex].ci) + ", n=" + data.buckets[c.dataIndex].n,
      } } },
    },
    plugins: [errorBars],
  });

  // Monthly trend: evaluated outcomes (bars, right axis) and the win rate with its interval (line).
  new Chart(document.getElementById("trend-chart"), {
    data: {
      labels: data.trend.map((m) => m.month),
      datasets: [
        { type: "line", label: "Win rate", data: data.trend.map((m) => m.win_rate), yAxisID: "y",
          intervals: data.trend.map((m) => m.ci), borderColor: accent, backgroundColor: accent, spanGaps: true },
        { type: "bar", label: "Evaluated outcomes", data: data.trend.map((m) => m.n), yAxisID: "count",
          backgroundColor: "rgba(160, 168, 176, 0.45)" },
      ],
    },
    options: {
      maintainAspectRatio: false, animation: false,
      scales: {
        y: percentAxis("Win rate"),
        count: { position: "right", beginAtZero: true, title: { display: true, text: "Evaluated outcomes" },
                 grid: { drawOnChartArea: false }, ticks: { precision: 0 } },
      },
    },
    plugins: [errorBars],
  });

  // Calibration: observed WIN probability at each unified-score bucket's midpoint, with n beside it.
  const buckets = data.calibration;
  new Chart(document.getElementById("calibration-chart"), {
    type: "scatter",
    data: {
      datasets: [{
        label: "Observed win probability", showLine: true, borderColor: accent, backgroundColor: accent,
        pointRadius: 5, data: buckets.map((b) => ({ x: b.midpoint, y: b.win_probability })),
        intervals: buckets.map((b) => b.ci), notes: buckets.map((b) => "n=" + b.n),
      }],
    },
    options: {
      maintainAspectRatio: false, animation: false,
      scales: {
        x: { min: 0, max: 100, title: { display: true, text: "Unified score (bucket midpoint)" } },
        y: percentAxis("Observed win probability"),
      },
      plugins: { legend: { display: false }, tooltip: { callbacks: {
        label: (c) => buckets[c.dataIndex].label + ": " + c.raw.y + "%" + interval(buckets[c.dataIndex].ci)
          + ", n=" + buckets[c.dataIndex].n,
      } } },
    },
    plugins: [errorBars],
  });
})();
