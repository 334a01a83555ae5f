// The main navigation: marks the current page, and at phone width folds behind a Menu button.
// Without JavaScript the links simply wrap, so the menu is always reachable.
(function () {
  "use strict";
  var header = document.querySelector("header.top");
  var nav = document.getElementById("main-nav");
  var button = header && header.querySelector(".menu-toggle");
  if (!nav) return;
  Array.prototype.forEach.call(nav.querySelectorAll("a"), function (link) {
    var path = link.pathname.replace(/\/$/, "");
    var here = window.location.pathname.replace(/\/$/, "");
    if (path && (here === path || (path !== "" && here.indexOf(path + "/") === 0))) {
      link.setAttribute("aria-current", "page");
    }
  });
  if (!button) return;
  header.classList.add("js-nav");
  button.hidden = false;
  button.addEventListener("click", function () {
    var open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  });
})();
