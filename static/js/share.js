// Share buttons: copy the link, or hand it to the phone's share sheet when there is one.
(function () {
  document.querySelectorAll("[data-share-url]").forEach(function (box) {
    var url = box.getAttribute("data-share-url");
    var copy = box.querySelector("[data-copy]");
    var send = box.querySelector("[data-send]");
    if (copy && navigator.clipboard) {
      copy.hidden = false;
      copy.addEventListener("click", function () {
        navigator.clipboard.writeText(url).then(function () { copy.textContent = copy.getAttribute("data-done"); });
      });
    }
    if (send && navigator.share) {
      send.hidden = false;
      send.addEventListener("click", function () { navigator.share({ url: url, title: document.title }); });
    }
  });
})();
