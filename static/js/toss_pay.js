// The Toss payment widget (SDK v2): the buyer picks card, KakaoPay, Naver Pay, Toss Pay or a
// transfer, and Toss sends the browser to our success URL with paymentKey, orderId and amount.
// The amount and order id come from our server; the server confirms the payment with Toss and
// checks the amount against its own record, so nothing this page sends is trusted.
(function () {
  var form = document.getElementById("toss-form");
  if (!form) return;
  var data = form.dataset;
  var button = document.getElementById("pay-button");
  var message = document.getElementById("payment-message");
  if (typeof window.TossPayments !== "function") {
    form.hidden = true;
    document.getElementById("payment-unavailable").hidden = false;
    return;
  }
  var toss = window.TossPayments(data.clientKey);
  var widgets = toss.widgets({ customerKey: window.TossPayments.ANONYMOUS });
  function show(error) {
    message.textContent = (error && error.message) || String(error);
    message.hidden = false;
    button.disabled = false;
  }
  widgets
    .setAmount({ currency: data.currency, value: parseInt(data.amount, 10) })
    .then(function () {
      return Promise.all([
        widgets.renderPaymentMethods({ selector: "#toss-methods", variantKey: "DEFAULT" }),
        widgets.renderAgreement({ selector: "#toss-agreement", variantKey: "AGREEMENT" }),
      ]);
    })
    .then(function () { button.disabled = false; }, show);

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    message.hidden = true;
    widgets
      .requestPayment({
        orderId: data.orderId,
        orderName: data.orderName,
        customerEmail: data.customerEmail,
        successUrl: data.successUrl,
        failUrl: data.failUrl,
      })
      .catch(show);
  });
})();
