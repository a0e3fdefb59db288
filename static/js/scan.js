// Scan a coupon's QR code with the phone's camera where the browser has BarcodeDetector; typing
// the code always works without it. The code read fills the field and the form is sent.
(function () {
  var button = document.getElementById("scan");
  var video = document.getElementById("scan-video");
  var form = document.getElementById("redeem-form");
  if (!button || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream;
      video.hidden = false;
      video.play();
      function stop() { stream.getTracks().forEach(function (t) { t.stop(); }); video.hidden = true; }
      function look() {
        detector.detect(video).then(function (codes) {
          if (codes.length) {
            stop();
            form.querySelector("input[name=code]").value = codes[0].rawValue;
            form.submit();
          } else {
            window.requestAnimationFrame(look);
          }
        }).catch(function () { window.requestAnimationFrame(look); });
      }
      look();
    }).catch(function () { button.hidden = true; });
  });
})();
