// Register a card for a group-buy pledge in Toss's billing window (SDK v2): Toss sends the browser
// to our success URL with customerKey and authKey, which the server exchanges for a billing key.
// Nothing is charged here.
(function () {
  var form = document.getElementById("toss-billing-form");
  if (!form) return;
  var data = form.dataset;
  var button = document.getElementById("pay-button");
  var message = document.getElementById("payment-message");
  if (typeof window.TossPayments !== "function") {
    form.hidden = true;
    document.getElementById("payment-unavailable").hidden = false;
    return;
  }
  var payment = window.TossPayments(data.clientKey).payment({ customerKey: data.customerKey });
  button.disabled = false;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    message.hidden = true;
    payment
      .requestBillingAuth({
        method: "CARD",
        successUrl: data.successUrl,
        failUrl: data.failUrl,
        customerEmail: data.customerEmail,
      })
      .catch(function (error) {
        message.textContent = (error && error.message) || String(error);
        message.hidden = false;
        button.disabled = false;
      });
  });
})();
