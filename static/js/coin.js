// The coin page's charts, drawn from the JSON the server put in the page (json_script):
// the price with its signals, the score history, and the latest score as a waterfall.
// Times are epoch milliseconds on a linear axis (no date adapter needed), shown in UTC.
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;
  var css = getComputedStyle(document.documentElement);
  function colour(name) { return css.getPropertyValue(name).trim(); }
  var fg = colour("--fg"), muted = colour("--muted"), line = colour("--line"), accent = colour("--accent");
  var long = colour("--long"), short = colour("--short");
  Chart.defaults.color = muted;
  Chart.defaults.borderColor = line;
  Chart.defaults.font.family = "system-ui, sans-serif";

  function read(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }
  function utc(ms) {  // "11-27 14:00"
    return new Date(ms).toISOString().slice(5, 16).replace("T", " ");
  }
  function timeAxis(first, last) {  // exactly the data's span, not rounded out to "nice" numbers
    return { type: "linear", min: first, max: last,
             ticks: { maxTicksLimit: window.innerWidth < 600 ? 3 : 6, callback: function (v) { return utc(v); } } };
  }
  var timeTooltip = { callbacks: { title: function (items) { return items.length ? utc(items[0].parsed.x) + " UTC" : ""; } } };

  var price = read("price-data");
  var priceCanvas = document.getElementById("price-chart");
  if (price && priceCanvas && price.candles.length) {
    var marks = function (direction) {
      return price.signals.filter(function (s) { return s.direction === direction; })
        .map(function (s) { return { x: s.t, y: s.price, label: s.label }; });
    };
    new Chart(priceCanvas, {
      type: "line",
      data: { datasets: [
        { label: "Close", data: price.candles.map(function (c) { return { x: c[0], y: c[1] }; }),
          borderColor: accent, borderWidth: 1.5, pointRadius: 0, tension: 0 },
        { type: "scatter", label: "LONG signal", data: marks("LONG"), backgroundColor: long, borderColor: long,
          pointStyle: "triangle", pointRadius: 7 },
        { type: "scatter", label: "SHORT signal", data: marks("SHORT"), backgroundColor: short, borderColor: short,
          pointStyle: "triangle", rotation: 180, pointRadius: 7 }
      ] },
      options: { maintainAspectRatio: false, animation: false, interaction: { mode: "nearest", intersect: false },
        scales: { x: timeAxis(price.candles[0][0], price.candles[price.candles.length - 1][0]),
                  y: { ticks: { maxTicksLimit: 6 } } },
        plugins: { legend: { labels: { color: fg } }, tooltip: { callbacks: {
          title: timeTooltip.callbacks.title,
          label: function (item) { return (item.raw.label || "Close") + ": " + item.parsed.y; } } } } }
    });
  }

  var history = read("history-data");
  var historyCanvas = document.getElementById("history-chart");
  if (history && historyCanvas && history.points.length) {
    new Chart(historyCanvas, {
      type: "line",
      data: { datasets: [{ label: "Unified score", data: history.points.map(function (p) { return { x: p[0], y: p[1] }; }),
        borderColor: accent, backgroundColor: accent, pointRadius: 2, spanGaps: false }] },
      options: { maintainAspectRatio: false, animation: false,
        scales: { x: timeAxis(history.points[0][0], history.points[history.points.length - 1][0]),
                  y: { min: 0, max: 100 } },
        plugins: { legend: { display: false }, tooltip: timeTooltip } }
    });
  }

  var fall = read("waterfall-data");
  var fallCanvas = document.getElementById("waterfall-chart");
  if (fall && fallCanvas && fall.bars.length) {
    var last = fall.bars.length - 1;
    new Chart(fallCanvas, {
      type: "bar",
      data: { labels: fall.labels, datasets: [{ label: "Points", data: fall.bars,
        backgroundColor: fall.bars.map(function (_, i) { return i === last ? fg : accent; }) }] },
      options: { indexAxis: "y", maintainAspectRatio: false, animation: false,
        scales: { x: { min: 0, max: 100 } },
        plugins: { legend: { display: false }, tooltip: { callbacks: {
          label: function (item) {
            return item.dataIndex === last ? "score " + fall.points[item.dataIndex]
              : "+" + fall.points[item.dataIndex] + " points";
          } } } } }
    });
  }
})();
