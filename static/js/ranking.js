// /ranking: each row's "Show" button opens its score breakdown (the row after it). Open rows stay
// open when htmx replaces the table every minute. Without JavaScript every breakdown is shown.
(function () {
  "use strict";
  var open = {};

  function wire(root) {
    Array.prototype.forEach.call(root.querySelectorAll(".breakdown-toggle"), function (button) {
      var id = button.getAttribute("aria-controls");
      var row = document.getElementById(id);
      if (!row || button.dataset.wired) return;
      button.dataset.wired = "1";
      var shown = !!open[id];
      row.hidden = !shown;
      button.setAttribute("aria-expanded", String(shown));
      button.firstChild.nodeValue = shown ? "Hide" : "Show";
      button.addEventListener("click", function () {
        open[id] = row.hidden;
        row.hidden = !row.hidden;
        button.setAttribute("aria-expanded", String(!row.hidden));
        button.firstChild.nodeValue = row.hidden ? "Show" : "Hide";
      });
    });
  }

  wire(document);
  // Leave blank filters out of the request, so the address pushed into the history stays short.
  document.body.addEventListener("htmx:configRequest", function (event) {
    var params = event.detail.parameters;
    ["tier", "scanner", "min_score"].forEach(function (name) { if (params[name] === "") delete params[name]; });
  });
  document.body.addEventListener("htmx:afterSettle", function () { wire(document); });
})();
