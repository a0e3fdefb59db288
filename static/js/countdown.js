// Live countdown for <time data-countdown datetime="..."> elements; the server text stays
// as the fallback. Reloads the page when the moment passes, so the sale's status updates.
(function () {
  var nodes = document.querySelectorAll("time[data-countdown]");
  if (!nodes.length) return;
  var lang = document.documentElement.lang;
  var units = lang === "ko" ? ["일", "시간", "분", "초"] : ["d", "h", "m", "s"];
  function render(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var parts = [Math.floor(s / 86400), Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60, s % 60];
    var out = [];
    for (var i = 0; i < 4; i++) if (parts[i] || out.length || i === 3) out.push(parts[i] + units[i]);
    return out.slice(0, 3).join(" ");
  }
  var started = Date.now();
  function tick() {
    var now = Date.now(), done = false;
    nodes.forEach(function (node) {
      var at = Date.parse(node.getAttribute("datetime"));
      node.textContent = render(at - now);
      // Reload only when the moment passes while the page is open (a skewed clock must not loop).
      if (at <= now && at > started) done = true;
    });
    if (done) { window.location.reload(); return; }
    window.setTimeout(tick, 1000);
  }
  tick();
})();
