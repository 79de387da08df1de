"""A small fake of the Stripe API: only the calls APIAny makes. Serve it with
tests.servers.ServerThread and point STRIPE_API_BASE at it.

- POST /v1/checkout/sessions, GET /v1/checkout/sessions/{id}
- POST /v1/refunds, POST /v1/subscriptions/{id}
- GET /checkout/{id}: the hosted checkout page; "pays" and redirects (303)
  to the session's success_url, like Stripe after a card payment.
POSTs honour Idempotency-Key (same key -> same answer) and are recorded.
"""

from __future__ import annotations

import itertools
import re
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

_KEY = re.compile(r"\[([^\]]*)\]")


def parse_form(items) -> dict[str, Any]:
    """Stripe's form encoding (a[b][0][c]=v) into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in items:
        head = key.split("[", 1)[0]
        path = [head, *_KEY.findall(key)]
        node: Any = root
        for part, nxt in zip(path, path[1:] + [None], strict=True):
            if nxt is None:
                node[part if not isinstance(node, list) else int(part)] = value
                break
            container: Any = [] if nxt.isdigit() else {}
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(None)
                node[index] = node[index] if node[index] is not None else container
                node = node[index]
            else:
                node = node.setdefault(part, container)
    return root


class FakeStripe:
    def __init__(self) -> None:
        self.sessions: dict[str, dict] = {}
        self.refunds: list[dict] = []
        self.subscriptions: dict[str, dict] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self._answers: dict[str, dict] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.base_url = ""
        self.app = Starlette(routes=[
            Route("/v1/checkout/sessions", self.create_session, methods=["POST"]),
            Route("/v1/checkout/sessions/{sid}", self.get_session, methods=["GET"]),
            Route("/v1/refunds", self.create_refund, methods=["POST"]),
            Route("/v1/subscriptions/{sub}", self.update_subscription, methods=["POST"]),
            Route("/checkout/{sid}", self.hosted_checkout, methods=["GET"]),
        ])

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids)}"

    async def _post(self, request: Request, make) -> JSONResponse:
        form = parse_form((await request.form()).multi_items())
        key = request.headers.get("idempotency-key")
        self.requests.append((request.method, request.url.path, key))
        with self._lock:
            if key and key in self._answers:
                return JSONResponse(self._answers[key])
            answer = make(request, form)
            if key:
                self._answers[key] = answer
        return JSONResponse(answer)

    async def create_session(self, request: Request) -> JSONResponse:
        def make(_request, form):
            sid = self.new_id("cs")
            item = form["line_items"][0]
            price = item["price_data"]
            session = {
                "id": sid, "object": "checkout.session", "mode": form["mode"],
                "url": f"{self.base_url}/checkout/{sid}", "status": "open",
                "payment_status": "unpaid", "client_reference_id": form.get("client_reference_id"),
                "amount_total": int(price["unit_amount"]) * int(item.get("quantity", 1)),
                "currency": price["currency"], "metadata": form.get("metadata", {}),
                "success_url": form["success_url"], "cancel_url": form["cancel_url"],
                "customer_email": form.get("customer_email"), "payment_intent": None,
                "subscription": None,
                "subscription_metadata": (form.get("subscription_data") or {}).get("metadata", {}),
            }
            self.sessions[sid] = session
            return session
        return await self._post(request, make)

    async def get_session(self, request: Request) -> JSONResponse:
        self.requests.append(("GET", request.url.path, None))
        session = self.sessions.get(request.path_params["sid"])
        if session is None:
            return JSONResponse({"error": {"message": "No such checkout session",
                                           "type": "invalid_request_error"}}, status_code=404)
        return JSONResponse(session)

    async def create_refund(self, request: Request) -> JSONResponse:
        def make(_request, form):
            refund = {"id": self.new_id("re"), "object": "refund", "amount": int(form["amount"]),
                      "payment_intent": form["payment_intent"], "status": "succeeded",
                      "metadata": form.get("metadata", {})}
            self.refunds.append(refund)
            return refund
        return await self._post(request, make)

    async def update_subscription(self, request: Request) -> JSONResponse:
        def make(req, form):
            sub = self.subscriptions.setdefault(req.path_params["sub"],
                                                {"id": req.path_params["sub"],
                                                 "object": "subscription", "status": "active"})
            sub["cancel_at_period_end"] = form.get("cancel_at_period_end") == "true"
            return sub
        return await self._post(request, make)

    def pay(self, sid: str, *, payment_status: str = "paid") -> dict:
        """The buyer completes checkout (card: paid; bank debit: unpaid)."""
        session = self.sessions[sid]
        session.update(status="complete", payment_status=payment_status)
        if session["mode"] == "subscription":
            session["subscription"] = session["subscription"] or self.new_id("sub")
        else:
            session["payment_intent"] = session["payment_intent"] or self.new_id("pi")
        return dict(session)

    async def hosted_checkout(self, request: Request):
        session = self.pay(request.path_params["sid"])
        return RedirectResponse(session["success_url"].replace("{CHECKOUT_SESSION_ID}",
                                                               session["id"]), status_code=303)
