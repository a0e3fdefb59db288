// Live progress: a box with data-progress-url polls that JSON every 15 s (data-progress-every
// in ms overrides it) and updates its <progress data-progress-bar> and [data-progress-line=KEY]
// texts from `lines`, and per-item [data-progress-item=ID] texts from `items`. The server's
// HTML stays as the fallback; polling pauses while the tab is hidden.
(function () {
  var boxes = document.querySelectorAll("[data-progress-url]");
  boxes.forEach(function (box) {
    var every = parseInt(box.getAttribute("data-progress-every") || "15000", 10);
    function apply(data) {
      var bar = box.querySelector("[data-progress-bar]");
      if (bar && typeof data.units_pledged === "number") bar.value = data.units_pledged;
      Object.keys(data.lines || {}).forEach(function (key) {
        var node = box.querySelector('[data-progress-line="' + key + '"]');
        if (node) node.textContent = data.lines[key];
      });
      Object.keys(data.items || {}).forEach(function (id) {
        var node = document.querySelector('[data-progress-item="' + id + '"]');
        if (node) node.textContent = data.items[id];
      });
    }
    function poll() {
      if (document.hidden) { window.setTimeout(poll, every); return; }
      fetch(box.getAttribute("data-progress-url"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) { if (data) apply(data); })
        .catch(function () {})
        .then(function () { window.setTimeout(poll, every); });
    }
    window.setTimeout(poll, every);
  });
})();
