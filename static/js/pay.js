// The card payment form: Stripe's Payment Element, confirmed in the browser. Stripe then sends
// the buyer to the order page (return URL); the server learns the outcome from Stripe itself
// (webhook, tick), never from this page. With data-mode="setup" the card is only saved (a
// SetupIntent, for a group-buy pledge) and the return URL asks Stripe whether that worked.
(function () {
  var form = document.getElementById("payment-form");
  if (!form) return;
  if (typeof window.Stripe !== "function") {
    form.hidden = true;
    document.getElementById("payment-unavailable").hidden = false;
    return;
  }
  var stripe = window.Stripe(form.dataset.publishableKey, { locale: form.dataset.locale });
  var elements = stripe.elements({ clientSecret: form.dataset.clientSecret });
  var button = document.getElementById("pay-button");
  var message = document.getElementById("payment-message");
  var element = elements.create("payment");
  element.on("ready", function () { button.disabled = false; });
  element.mount("#payment-element");

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    message.hidden = true;
    var confirm = form.dataset.mode === "setup" ? stripe.confirmSetup : stripe.confirmPayment;
    confirm
      .call(stripe, { elements: elements, confirmParams: { return_url: form.dataset.returnUrl } })
      .then(function (result) {
        // Only reached when the payment could not be confirmed; success leaves the page.
        if (result.error) {
          message.textContent = result.error.message;
          message.hidden = false;
          button.disabled = false;
        }
      });
  });
})();
