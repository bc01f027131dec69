/* The console, live: frames from /ws/ops/ ("ops.overview"), or polling the page's frame URL when the
   socket is refused or down; paused while the tab is hidden. A static file: the Content-Security-Policy
   allows no inline script. */
(function () {
  "use strict";
  var root = document.getElementById("console");
  if (!root) { return; }
  var interval = Math.max(2, parseFloat(root.dataset.interval) || 2) * 1000;
  var liveRange = (root.dataset.range || "15m") === "15m";
  var WINDOW_S = 15 * 60;
  var badge = document.getElementById("live-badge");
  var updated = document.getElementById("updated-ago");
  var series = readSeries();
  var socket = null, pollTimer = null, retryTimer = null, retryDelay = 1000;
  var lastUpdate = parseTime(updated && updated.dataset.generatedAt);

  function readSeries() {
    var node = document.getElementById("console-series");
    if (!node) { return {}; }
    try { return JSON.parse(node.textContent) || {}; } catch (e) { return {}; }
  }

  function parseTime(text) {
    var t = text ? Date.parse(text) : NaN;
    return isNaN(t) ? null : t;
  }

  function setBadge(state, words) {
    if (!badge) { return; }
    badge.className = "badge badge-" + state;
    badge.textContent = words || state;
    root.dataset.live = state;
  }

  function tickUpdated() {
    if (!updated) { return; }
    if (lastUpdate === null) { updated.textContent = "no update yet"; return; }
    var seconds = Math.max(0, Math.round((Date.now() - lastUpdate) / 1000));
    updated.textContent = "updated " + seconds + " s ago";
  }

  /* The live value of a series: the frame carries every series under the name its history has. */
  function liveValue(frame, name) {
    var value = (frame.series || {})[name];
    return typeof value === "number" ? value : null;
  }

  function drawSparks() {
    var svgs = document.querySelectorAll("svg.spark");
    for (var i = 0; i < svgs.length; i++) {
      var svg = svgs[i];
      var points = (series[svg.dataset.series] || []).filter(function (p) { return p[1] !== null; });
      var line = svg.querySelector("polyline");
      if (points.length < 2) { svg.classList.add("empty-series"); line.setAttribute("points", "0,23 100,23"); continue; }
      svg.classList.remove("empty-series");
      var t0 = points[0][0], t1 = points[points.length - 1][0];
      var lo = Infinity, hi = -Infinity;
      points.forEach(function (p) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); });
      if (hi === lo) { hi = lo + 1; }
      line.setAttribute("points", points.map(function (p) {
        var x = t1 === t0 ? 100 : ((p[0] - t0) / (t1 - t0)) * 100;
        var y = 23 - ((p[1] - lo) / (hi - lo)) * 22;
        return x.toFixed(2) + "," + y.toFixed(2);
      }).join(" "));
    }
  }

  function appendLive(frame) {
    if (!liveRange) { return; }
    var now = (parseTime((frame.data || {}).generated_at) || Date.now()) / 1000;
    Object.keys(series).forEach(function (name) {
      var points = series[name];
      var last = points.length ? points[points.length - 1][0] : 0;
      if (now <= last) { return; }
      points.push([now, liveValue(frame, name)]);
      while (points.length && points[0][0] < now - WINDOW_S) { points.shift(); }
    });
  }

  function apply(frame) {
    if (!frame || frame.type !== "ops.overview") { return; }
    var html = frame.html || {};
    ["banner", "summary", "tiles"].forEach(function (region) {
      var target = document.getElementById("console-" + region);
      if (target && typeof html[region] === "string") { target.innerHTML = html[region]; }
    });
    appendLive(frame);
    drawSparks();
    lastUpdate = Date.now();
    tickUpdated();
  }

  function poll() {
    if (document.hidden) { return; }
    fetch(root.dataset.liveUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(apply)
      .catch(function () { setBadge("reconnecting", "reconnecting"); });
  }

  function startPolling() {
    if (pollTimer === null) { poll(); pollTimer = window.setInterval(poll, interval); }
  }

  function stopPolling() {
    if (pollTimer !== null) { window.clearInterval(pollTimer); pollTimer = null; }
  }

  function connect() {
    if (document.hidden || socket !== null) { return; }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws;
    try { ws = new WebSocket(scheme + location.host + root.dataset.wsPath); } catch (e) { return fallBack(); }
    socket = ws;
    ws.onopen = function () { retryDelay = 1000; stopPolling(); setBadge("live", "live"); };
    ws.onmessage = function (event) {
      try { apply(JSON.parse(event.data)); } catch (e) { /* not a frame we read */ }
    };
    ws.onclose = function () {
      if (socket === ws) { socket = null; }
      if (!document.hidden) { fallBack(); }
    };
  }

  /* The socket was refused or dropped: poll the page's frame, and try the socket again, backing off. */
  function fallBack() {
    setBadge("reconnecting", "reconnecting · polling");
    startPolling();
    if (retryTimer === null) {
      retryTimer = window.setTimeout(function () { retryTimer = null; connect(); }, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 30000);
    }
  }

  function pause() {
    stopPolling();
    if (retryTimer !== null) { window.clearTimeout(retryTimer); retryTimer = null; }
    if (socket !== null) { var ws = socket; socket = null; ws.onclose = null; ws.close(1000); }
    setBadge("paused", "paused");
  }

  /* Regions that follow moving data (a payment's timeline): re-fetched every interval while the tab is shown. */
  var refreshing = Array.prototype.slice.call(document.querySelectorAll("[data-refresh-url]"));
  function refreshRegions() {
    if (document.hidden) { return; }
    refreshing.forEach(function (node) {
      fetch(node.dataset.refreshUrl, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
        .then(function (html) { node.innerHTML = html; })
        .catch(function () { /* the next interval tries again */ });
    });
  }
  if (refreshing.length) { window.setInterval(refreshRegions, interval); }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { pause(); } else { setBadge("connecting", "connecting…"); connect(); }
  });
  /* Pages with a live region of their own (#page-live[data-refresh-url]) poll it every interval while
     visible: one shared, briefly cached reading server-side, so many viewers cost what one does. */
  var pageLive = document.getElementById("page-live");
  if (pageLive && pageLive.dataset.refreshUrl) {
    window.setInterval(function () {
      if (document.hidden) { return; }
      fetch(pageLive.dataset.refreshUrl, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
        .then(function (html) { pageLive.innerHTML = html; series = readSeries(); drawSparks(); pageLive.dataset.refreshed = String(Date.now()); })
        .catch(function () { setBadge("reconnecting", "reconnecting"); });
    }, interval);
  }
  drawSparks();
  tickUpdated();
  window.setInterval(tickUpdated, 1000);
  if (document.hidden) { setBadge("paused", "paused"); } else { connect(); }
})();
