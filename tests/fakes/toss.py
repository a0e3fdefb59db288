"""A Toss Payments API on loopback, for the tests: the paths, JSON bodies, error objects and
Basic-auth scheme of Toss's public API reference (https://docs.tosspayments.com/reference), so
`farmstore.payments.toss_gateway` talks HTTP to it exactly as it would to api.tosspayments.com.

It keeps Toss's rules that our code relies on, and rejects what Toss rejects:
- every call needs `Authorization: Basic base64(secretKey + ":")` with a test secret key (401
  UNAUTHORIZED_KEY otherwise);
- a payment exists once the buyer finished the payment widget (`widget_payment`, the test's
  stand-in for the browser) in status IN_PROGRESS; POST /v1/payments/confirm with another amount
  or order id is refused (400 INVALID_REQUEST), a second confirm gets 400
  ALREADY_PROCESSED_PAYMENT, an unknown paymentKey 404 NOT_FOUND_PAYMENT;
- POST /v1/payments/{paymentKey}/cancel refunds all or `cancelAmount` of what is left, and
  refuses more than that (403 NOT_CANCELABLE_AMOUNT) or a payment already fully canceled
  (400 ALREADY_CANCELED_PAYMENT);
- an Idempotency-Key replays the first answer to the same request, and refuses the same key on a
  different request (422 INVALID_REQUEST);
- billing: an authKey from the widget's billing authorisation (`billing_auth_key`) is exchanged
  once for a billingKey, which is charged with POST /v1/billing/{billingKey} (declined with 403
  REJECT_CARD_PAYMENT when the test says so) and deleted with DELETE.

Everything runs under one lock, so concurrent calls are applied one at a time, as a single
account at Toss would. `state()` gives the tests Toss's own view of what happened.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import secrets
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

KST = timezone(timedelta(hours=9))
TEST_SECRET_KEY = "test_sk_farmstore_fake"


def _now() -> str:
    return datetime.now(KST).isoformat(timespec="seconds")


class TossError(Exception):
    """An error object Toss answers with: HTTP status, code and Korean message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class _Payment:
    payment_key: str
    order_id: str
    amount: int
    order_name: str = "farmstore"
    method: str = "카드"
    type: str = "NORMAL"
    status: str = "IN_PROGRESS"
    balance: int = 0
    requested_at: str = field(default_factory=_now)
    approved_at: str | None = None
    cancels: list[dict] = field(default_factory=list)
    last_transaction_key: str | None = None
    customer_key: str | None = None

    def as_json(self) -> dict:
        """A Payment object as Toss returns it (the fields our code and the tests read)."""
        return {
            "mId": "tvivarepublica",
            "version": "2022-11-16",
            "paymentKey": self.payment_key,
            "orderId": self.order_id,
            "orderName": self.order_name,
            "type": self.type,
            "status": self.status,
            "method": self.method,
            "currency": "KRW",
            "totalAmount": self.amount,
            "balanceAmount": self.balance,
            "suppliedAmount": self.amount,
            "requestedAt": self.requested_at,
            "approvedAt": self.approved_at,
            "lastTransactionKey": self.last_transaction_key,
            "cancels": list(self.cancels) or None,
            "card": {"number": "43301234****123*", "approveNo": "00000000", "amount": self.amount}
            if self.method == "카드"
            else None,
            "easyPay": {"provider": "토스페이", "amount": self.amount} if self.method == "간편결제" else None,
            "failure": None,
        }


@dataclass
class _BillingKey:
    billing_key: str
    customer_key: str
    deleted: bool = False
    decline: bool = False
    charges: int = 0


class FakeToss:
    """The fake's state and rules, apart from HTTP (the handler below speaks the HTTP)."""

    def __init__(self, secret_key: str = TEST_SECRET_KEY):
        self.secret_key = secret_key
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget every payment, key and recorded request."""
        with self.lock:
            self.payments: dict[str, _Payment] = {}
            self.by_order: dict[str, str] = {}
            self.auth_keys: dict[str, str] = {}  # authKey -> customerKey, until issued
            self.billing_keys: dict[str, _BillingKey] = {}
            self.idempotent: dict[str, tuple[str, tuple[int, dict]]] = {}
            self.requests: list[tuple[str, str]] = []
            self.failures: list[int] = []  # HTTP statuses the next API calls answer with
            self.drop_after: set[str] = set()  # paths whose effect happens but whose answer is lost
            self.webhook_url: str | None = None  # where PAYMENT_STATUS_CHANGED is sent, as Toss does
            self.answer_delay = 0.0  # seconds between doing a call's work and answering it
            self.webhooks_sent: list[str] = []

    # ---------------------------------------------------------------- test hooks (the browser's side)

    def widget_payment(self, *, order_id: str, amount: int, method: str = "카드") -> str:
        """The buyer finished the payment widget for `order_id`: Toss holds an authenticated payment
        (IN_PROGRESS) waiting for our confirm, and redirects to the success URL with its key."""
        with self.lock:
            key = "tgen_" + secrets.token_hex(12)
            self.payments[key] = _Payment(payment_key=key, order_id=order_id, amount=amount, method=method)
            self.by_order[order_id] = key
            return key

    def billing_auth_key(self, *, customer_key: str) -> str:
        """The buyer finished the widget's card registration: Toss redirects with an authKey."""
        with self.lock:
            auth_key = "bln_auth_" + secrets.token_hex(8)
            self.auth_keys[auth_key] = customer_key
            return auth_key

    def approve(self, payment_key: str) -> None:
        """Approve an authenticated payment as our confirm would (one whose answer we lost)."""
        with self.lock:
            payment = self.payments[payment_key]
            self._confirm({"paymentKey": payment_key, "orderId": payment.order_id, "amount": payment.amount})

    def decline_billing(self, billing_key: str) -> None:
        """Every later charge of this billing key is declined by the card company."""
        with self.lock:
            self.billing_keys[billing_key].decline = True

    def fail_next(self, *statuses: int) -> None:
        """The next API calls answer with these HTTP statuses (5xx: Toss is having trouble)."""
        with self.lock:
            self.failures.extend(statuses)

    def payment(self, payment_key: str) -> dict:
        """Toss's Payment object, as the dashboard would show it."""
        with self.lock:
            return self.payments[payment_key].as_json()

    def payment_by_order(self, order_id: str) -> dict | None:
        with self.lock:
            key = self.by_order.get(order_id)
            return self.payments[key].as_json() if key else None

    def billing(self, billing_key: str) -> _BillingKey:
        with self.lock:
            return self.billing_keys[billing_key]

    def count(self, method: str, pattern: str) -> int:
        """How many API calls matched `method` and the path regex `pattern`."""
        with self.lock:
            return sum(1 for m, path in self.requests if m == method and re.fullmatch(pattern, path))

    # ---------------------------------------------------------------- the API

    def handle(self, method: str, path: str, headers, body: dict) -> tuple[int, dict]:
        """Answer one API call: (HTTP status, JSON body)."""
        with self.lock:
            self.requests.append((method, path))
            self._authenticate(headers.get("Authorization", ""))
            if self.failures:
                status = self.failures.pop(0)
                raise TossError(status, "FAILED_INTERNAL_SYSTEM_PROCESSING", "내부 시스템 처리 작업이 실패했습니다.")
            key = headers.get("Idempotency-Key")
            if key and method == "POST":
                fingerprint = hashlib.sha256(f"{path} {json.dumps(body, sort_keys=True)}".encode()).hexdigest()
                if key in self.idempotent:
                    seen, answer = self.idempotent[key]
                    if seen != fingerprint:
                        raise TossError(422, "INVALID_REQUEST", "같은 멱등키로 다른 요청을 보낼 수 없습니다.")
                    return answer
                try:
                    answer = (200, self._route(method, path, body))
                except TossError as error:
                    answer = (error.status, {"code": error.code, "message": error.message})
                self.idempotent[key] = (fingerprint, answer)
                return answer
            return 200, self._route(method, path, body)

    def _authenticate(self, header: str) -> None:
        expected = "Basic " + base64.b64encode(f"{self.secret_key}:".encode()).decode()
        if header != expected:
            raise TossError(401, "UNAUTHORIZED_KEY", "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.")

    def _route(self, method: str, path: str, body: dict) -> dict:
        if method == "POST" and path == "/v1/payments/confirm":
            return self._confirm(body)
        if method == "GET" and (match := re.fullmatch(r"/v1/payments/orders/([^/]+)", path)):
            return self._found(self.by_order.get(match[1])).as_json()
        if method == "POST" and (match := re.fullmatch(r"/v1/payments/([^/]+)/cancel", path)):
            return self._cancel(self._found(match[1]), body)
        if method == "GET" and (match := re.fullmatch(r"/v1/payments/([^/]+)", path)):
            return self._found(match[1]).as_json()
        if method == "POST" and path == "/v1/billing/authorizations/issue":
            return self._issue_billing_key(body)
        if match := re.fullmatch(r"/v1/billing/([^/]+)", path):
            billing = self.billing_keys.get(match[1])
            if billing is None or billing.deleted:
                raise TossError(404, "NOT_FOUND_BILLING", "존재하지 않는 빌링키입니다.")
            if method == "DELETE":
                billing.deleted = True
                return {}
            if method == "POST":
                return self._charge(billing, body)
        raise TossError(404, "NOT_FOUND", "존재하지 않는 API입니다.")

    def _found(self, payment_key: str | None) -> _Payment:
        payment = self.payments.get(payment_key or "")
        if payment is None:
            raise TossError(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다.")
        return payment

    def _confirm(self, body: dict) -> dict:
        _require(body, "paymentKey", "orderId", "amount")
        payment = self._found(body["paymentKey"])
        if payment.status != "IN_PROGRESS":
            raise TossError(400, "ALREADY_PROCESSED_PAYMENT", "이미 처리된 결제 입니다.")
        if body["orderId"] != payment.order_id or body["amount"] != payment.amount:
            raise TossError(400, "INVALID_REQUEST", "결제 금액 또는 주문번호가 결제 요청과 일치하지 않습니다.")
        payment.status, payment.balance, payment.approved_at = "DONE", payment.amount, _now()
        payment.last_transaction_key = secrets.token_hex(16).upper()
        self._notify(payment)
        return payment.as_json()

    def _notify(self, payment: _Payment) -> None:
        """Send PAYMENT_STATUS_CHANGED to the registered webhook URL from another thread, the way
        Toss posts it independently of the API call's answer (unsigned, with the Payment object)."""
        if not self.webhook_url:
            return
        body = json.dumps({"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": _now(), "data": payment.as_json()})
        url = self.webhook_url

        def post() -> None:
            request = urllib.request.Request(  # noqa: S310 (a loopback test server)
                url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
            )
            with contextlib.suppress(OSError):  # Toss would retry later; the tests look at what arrived
                urllib.request.urlopen(request, timeout=30).close()  # noqa: S310
            self.webhooks_sent.append(payment.payment_key)

        threading.Thread(target=post, daemon=True).start()

    def _cancel(self, payment: _Payment, body: dict) -> dict:
        _require(body, "cancelReason")
        if payment.status == "CANCELED":
            raise TossError(400, "ALREADY_CANCELED_PAYMENT", "이미 취소된 결제 입니다.")
        if payment.status not in ("DONE", "PARTIAL_CANCELED"):
            raise TossError(403, "NOT_CANCELABLE_PAYMENT", "취소 할 수 없는 결제 입니다.")
        amount = body.get("cancelAmount", payment.balance)
        if not isinstance(amount, int) or amount <= 0 or amount > payment.balance:
            raise TossError(403, "NOT_CANCELABLE_AMOUNT", "취소 할 수 없는 금액 입니다.")
        payment.balance -= amount
        payment.status = "CANCELED" if payment.balance == 0 else "PARTIAL_CANCELED"
        payment.last_transaction_key = secrets.token_hex(16).upper()
        payment.cancels.append(
            {
                "transactionKey": payment.last_transaction_key,
                "cancelAmount": amount,
                "cancelReason": body["cancelReason"],
                "canceledAt": _now(),
                "cancelStatus": "DONE",
                "refundableAmount": payment.balance,
            }
        )
        self._notify(payment)
        return payment.as_json()

    def _issue_billing_key(self, body: dict) -> dict:
        _require(body, "authKey", "customerKey")
        if self.auth_keys.get(body["authKey"]) != body["customerKey"]:
            raise TossError(400, "INVALID_AUTH_KEY", "유효하지 않은 authKey 입니다.")
        del self.auth_keys[body["authKey"]]
        billing_key = "bk_" + secrets.token_hex(12)
        self.billing_keys[billing_key] = _BillingKey(billing_key=billing_key, customer_key=body["customerKey"])
        return {
            "mId": "tvivarepublica",
            "customerKey": body["customerKey"],
            "billingKey": billing_key,
            "method": "카드",
            "cardCompany": "신한",
            "cardNumber": "43301234****123*",
            "authenticatedAt": _now(),
        }

    def _charge(self, billing: _BillingKey, body: dict) -> dict:
        _require(body, "customerKey", "amount", "orderId", "orderName")
        if body["customerKey"] != billing.customer_key:
            raise TossError(400, "INVALID_REQUEST", "customerKey가 빌링키와 일치하지 않습니다.")
        if body["orderId"] in self.by_order:
            raise TossError(400, "DUPLICATED_ORDER_ID", "이미 승인 및 취소가 진행된 중복된 주문번호 입니다.")
        if billing.decline:
            raise TossError(403, "REJECT_CARD_PAYMENT", "한도초과 혹은 잔액부족으로 결제에 실패했습니다.")
        billing.charges += 1
        key = "tbill_" + secrets.token_hex(12)
        payment = _Payment(
            payment_key=key, order_id=body["orderId"], amount=body["amount"], order_name=body["orderName"],
            type="BILLING", customer_key=billing.customer_key,
        )  # fmt: skip
        payment.status, payment.balance, payment.approved_at = "DONE", payment.amount, _now()
        payment.last_transaction_key = secrets.token_hex(16).upper()
        self.payments[key], self.by_order[body["orderId"]] = payment, key
        return payment.as_json()


def _require(body: dict, *names: str) -> None:
    missing = [name for name in names if body.get(name) in (None, "")]
    if missing:
        raise TossError(400, "INVALID_REQUEST", f"필수 파라미터가 누락되었습니다: {', '.join(missing)}")
    if "amount" in names and not isinstance(body["amount"], int):
        raise TossError(400, "INVALID_REQUEST", "amount는 정수여야 합니다.")


# A stand-in for https://js.tosspayments.com/v2/standard with the calls our page makes (SDK v2
# widgets): it draws a placeholder and "pays" by sending the browser to this server's /_widget.
_WIDGET_SCRIPT = """
(function () {
  var base = document.currentScript.src.replace(/\\/v2\\/standard$/, "");
  window.TossPayments = function () {
    return {
    payment: function (options) {
      return { requestBillingAuth: function (p) {
        var query = new URLSearchParams({ customerKey: options.customerKey, successUrl: p.successUrl });
        window.location.href = base + "/_billing?" + query.toString();
        return new Promise(function () {});
      } };
    },
    widgets: function () {
      var amount = null;
      return {
        setAmount: function (value) { amount = value; return Promise.resolve(); },
        renderPaymentMethods: function (o) {
          document.querySelector(o.selector).textContent = "[Toss: 카드 · 카카오페이 · 네이버페이 · 토스페이]";
          return Promise.resolve();
        },
        renderAgreement: function () { return Promise.resolve(); },
        requestPayment: function (p) {
          var query = new URLSearchParams({ orderId: p.orderId, amount: amount.value, successUrl: p.successUrl,
                                            failUrl: p.failUrl, code: window.__tossFailCode || "" });
          window.location.href = base + "/_widget?" + query.toString();
          return new Promise(function () {});
        }
      };
    } };
  };
  window.TossPayments.ANONYMOUS = "@@ANONYMOUS";
})();
"""


def _handler(toss: FakeToss):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _serve(self) -> None:
            if self.command == "GET" and self.path == "/v2/standard":
                return self._send(200, _WIDGET_SCRIPT.encode(), "text/javascript; charset=utf-8")
            if self.command == "GET" and self.path.startswith("/_widget?"):
                return self._widget(parse_qs(self.path.split("?", 1)[1]))
            if self.command == "GET" and self.path.startswith("/_billing?"):
                query = parse_qs(self.path.split("?", 1)[1])
                auth_key = toss.billing_auth_key(customer_key=query["customerKey"][0])
                target = query["successUrl"][0]
                target += ("&" if "?" in target else "?") + urlencode(
                    {"customerKey": query["customerKey"][0], "authKey": auth_key}
                )
                return self._send(302, b"", "text/plain", location=target)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
                if not isinstance(body, dict):
                    raise ValueError
            except ValueError:
                status, answer = 400, {"code": "INVALID_REQUEST", "message": "잘못된 요청입니다."}
            else:
                try:
                    status, answer = toss.handle(self.command, self.path.split("?")[0], self.headers, body)
                except TossError as error:
                    status, answer = error.status, {"code": error.code, "message": error.message}
            if toss.answer_delay:
                time.sleep(toss.answer_delay)
            if self.path in toss.drop_after:  # Toss did it, but its answer never reaches us
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._send(status, json.dumps(answer, ensure_ascii=False).encode(), "application/json; charset=utf-8")

        def _send(self, status: int, payload: bytes, content_type: str, location: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            if location:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(payload)

        def _widget(self, query: dict) -> None:
            """The browser's side of the widget: the buyer pays (or stops), and Toss redirects to
            our success URL with paymentKey, orderId and amount (or to the fail URL with a code)."""
            order_id, amount = query["orderId"][0], int(query["amount"][0])
            if query.get("code"):
                target = (
                    query["failUrl"][0]
                    + "?"
                    + urlencode(
                        {
                            "code": query["code"][0],
                            "message": "사용자에 의해 결제가 취소되었습니다.",
                            "orderId": order_id,
                        }
                    )
                )
            else:
                key = toss.widget_payment(order_id=order_id, amount=amount)
                target = (
                    query["successUrl"][0]
                    + "?"
                    + urlencode({"paymentKey": key, "orderId": order_id, "amount": amount, "paymentType": "NORMAL"})
                )
            self._send(302, b"", "text/plain", location=target)

        do_GET = do_POST = do_DELETE = _serve

    return Handler


class TossServer:
    """The fake on a free loopback port, served from a daemon thread."""

    def __init__(self, secret_key: str = TEST_SECRET_KEY):
        self.toss = FakeToss(secret_key)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.toss))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> TossServer:
        """Serve (once: fixtures in several test folders may ask)."""
        if not self.thread.is_alive():
            self.thread.start()
        return self

    def stop(self) -> None:
        if not self.thread.is_alive():
            return
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
