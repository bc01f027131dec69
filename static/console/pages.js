/* Console pages beyond the overview: regions that refresh themselves, a replay job's progress, and
   confirmations before destructive actions. A static file (the CSP allows no inline script); polls at
   the console's interval and stops while the tab is hidden. */
(function () {
  "use strict";
  var root = document.getElementById("console");
  var interval = Math.max(2, parseFloat(root && root.dataset.interval) || 2) * 1000;

  /* [data-refresh-url]: the page's own region, re-rendered by the server (?format=fragment). */
  function refreshRegions() {
    if (document.hidden) { return; }
    var regions = document.querySelectorAll("[data-refresh-url]");
    Array.prototype.forEach.call(regions, function (region) {
      if (region.querySelector("details[open]")) { return; } /* an operator is reading a traceback */
      fetch(region.dataset.refreshUrl, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
        .then(function (html) { region.innerHTML = html; region.dataset.refreshedAt = String(Date.now()); })
        .catch(function () { /* the next tick tries again; the badge shows the socket's state */ });
    });
  }

  /* #job[data-job-url]: a replay job's progress, every second until it ends. */
  var job = document.getElementById("job");
  function pollJob() {
    if (!job || document.hidden) { return; }
    fetch(job.dataset.jobUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (body) {
        var data = body.job || {};
        Array.prototype.forEach.call(job.querySelectorAll("[data-field]"), function (node) {
          var value = data[node.dataset.field];
          node.textContent = value === null || value === undefined ? "—" : String(value);
        });
        var bar = document.getElementById("job-progress");
        if (bar) { bar.max = data.total || 1; bar.value = data.done || 0; }
        job.dataset.status = data.status;
        if (data.status !== "queued" && data.status !== "running") {
          Array.prototype.forEach.call(job.querySelectorAll("[data-while-active]"), function (n) { n.remove(); });
        }
      })
      .catch(function () { /* tried again next second */ });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (button && !window.confirm(button.dataset.confirm)) { event.preventDefault(); }
  });

  if (document.querySelector("[data-refresh-url]")) { window.setInterval(refreshRegions, interval); }
  if (job) {
    window.setInterval(function () {
      if (job.dataset.status === "queued" || job.dataset.status === "running") { pollJob(); }
    }, 1000);
  }
})();
