"""The /v1 request pipeline: authenticate the key -> model, scope -> RPM ->
hold the estimated cost -> route over channels with fallback -> adapter ->
settle or release -> usage row and attempts (one transaction)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import os
import random
import secrets
import time
from dataclasses import dataclass
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from apiany.core import fastjson
from apiany.core.db import utcnow
from apiany.core.errors import (
    APIAnyError, AuthenticationFailed, ClientClosed, NotFound, PermissionDenied, RateLimited,
)
from apiany.core.security import hash_token
from apiany.core.settings import Settings, get_settings
from apiany.gateway.accounting import (
    AttemptDraft, HealthChange, UsageDraft, finalize_request, reserve_for_request,
)
from apiany.gateway.cache import Catalog, GatewayCache, KeyInfo, ModelInfo, follow_remote_changes
from apiany.gateway.dbpool import run_db, run_db_shielded
from apiany.gateway.errors import client_error_for, counts_against_channel, error_response, is_retryable
from apiany.gateway.ratelimit import make_rate_limiter, retry_after_seconds
from apiany.gateway.requests import (
    ParsedBody, check_output_limit, check_serves, estimate_cost, parse_body, read_limited,
)
from apiany.gateway.routing import Candidate, ChannelHealth, plan_candidates
from apiany.gateway.upstream import open_upstream, read_body
from apiany.providers import get_adapter
from apiany.providers.base import ChannelConfig, ProviderError, Usage
from apiany.services.pricing import TokenPrices, TokenUsage, estimate_tokens, token_cost

T = TypeVar("T")
ZERO = TokenPrices()
BODY_LOG_LIMIT = 1_000_000


_ids = random.Random(secrets.randbits(128))
# Server workers are forked from one process: each must draw its own ids.
os.register_at_fork(after_in_child=lambda: _ids.seed(secrets.randbits(128)))


def new_request_id() -> str:
    """Unique, not secret (it is shown to the user and logged): a seeded
    PRNG instead of os.urandom, which is a system call per request."""
    return f"req_{_ids.getrandbits(96):024x}"


@dataclass(slots=True)
class Call:
    """Everything known about one /v1 request while it runs."""

    request_id: str
    started: float
    request_type: str
    endpoint: str
    key: KeyInfo
    parsed: ParsedBody
    model: ModelInfo
    hold_id: int
    draft: UsageDraft
    rate_headers: dict[str, str]

    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    def headers(self) -> dict[str, str]:
        return {"x-request-id": self.request_id, **self.rate_headers}


class Gateway:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.cache = GatewayCache()
        self.health = ChannelHealth(self.settings.channel_failure_threshold,
                                    self.settings.channel_cooldown_seconds)
        self.limiter = make_rate_limiter(self.settings.redis_url)
        self.rng = random.Random()
        self._follower: asyncio.Task | None = None

    def _follow_remote(self) -> None:
        """Start listening for other processes' config changes (once per loop)."""
        if self.settings.redis_url and (self._follower is None or self._follower.done()):
            self._follower = asyncio.get_running_loop().create_task(
                follow_remote_changes(self.settings.redis_url))

    # --- steps before the upstream call ---------------------------------------------

    async def authenticate(self, authorization: str | None) -> KeyInfo:
        if not authorization:
            raise AuthenticationFailed("missing API key: send it as 'Authorization: Bearer sk-...'")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationFailed("malformed Authorization header: expected 'Bearer sk-...'")
        key = await self.cache.key(hash_token(token))
        if key is None:
            raise AuthenticationFailed("incorrect API key provided")
        if key.status == "revoked":
            raise AuthenticationFailed("this API key has been revoked", code="key_revoked")
        if key.status != "active" or not key.user_active:
            raise PermissionDenied("this API key is disabled", code="key_disabled")
        if key.expires_at is not None and key.expires_at <= utcnow():
            raise PermissionDenied(f"this API key expired at {key.expires_at:%Y-%m-%d %H:%M} UTC",
                                   code="key_expired")
        return key

    @staticmethod
    def resolve_model(catalog: Catalog, key: KeyInfo, model_id: str) -> ModelInfo:
        model = catalog.models.get(model_id)
        if model is None or not model.is_public:
            raise NotFound(f"the model '{model_id}' does not exist", param="model", code="model_not_found")
        if key.model_scope and model_id not in key.model_scope:
            raise PermissionDenied(f"this API key may not use the model '{model_id}'", param="model",
                                   code="model_not_allowed")
        if model.status == "unavailable":
            raise NotFound(f"the model '{model_id}' is currently unavailable", param="model",
                           code="model_unavailable")
        return model

    async def check_rate(self, key: KeyInfo) -> dict[str, str]:
        if not key.rpm_limit:
            return {}
        decision = await self.limiter.hit(key.key_hash[:32], key.rpm_limit)
        if not decision.allowed:
            raise RateLimited(f"rate limit reached: {key.rpm_limit} requests per minute for this key",
                              headers={"retry-after": retry_after_seconds(decision), **decision.headers()})
        return decision.headers()

    async def admit(self, request: Request, request_type: str, request_id: str,
                    started: float, media=None) -> Call | Response:
        """Run every check and place the hold. Returns a Call, or the error
        response (with its usage row written when the caller is known).
        `media` (gateway.media.MediaSpec) parses and prices media bodies."""
        try:
            key = await self.authenticate(request.headers.get("authorization"))
        except APIAnyError as exc:
            return error_response(exc, request_id)
        draft = UsageDraft(request_id=request_id, user_id=key.user_id, api_key_id=key.id,
                           request_type=request_type, endpoint=request.url.path)
        extra: dict[str, str] = {}
        try:
            raw = await read_limited(request, media.limit if media else self.settings.max_request_bytes)
            parsed = (media.parse(raw, request.headers.get("content-type", "")) if media
                      else parse_body(raw, request_type))
            draft.public_model, draft.stream = parsed.model, parsed.stream
            catalog = await self.cache.catalog()
            model = self.resolve_model(catalog, key, parsed.model)
            check_serves(model, request_type)
            if media is None:
                check_output_limit(model, parsed)
            extra = await self.check_rate(key)
            estimate = (media.estimate(model, parsed) if media else
                        estimate_cost(model, parsed, request_type, self.settings.default_max_output_tokens))
            hold_id = await run_db(reserve_for_request, user_id=key.user_id, api_key_id=key.id,
                                   amount=max(estimate, 1), request_id=request_id,
                                   reference=media.reference if media else None)
        except APIAnyError as exc:
            draft.status = "client_closed" if isinstance(exc, ClientClosed) else "error"
            draft.http_status = exc.status_code
            draft.error_type, draft.error_summary = exc.code or exc.error_type, exc.message[:500]
            draft.latency_ms = int((time.perf_counter() - started) * 1000)
            await run_db_shielded(finalize_request, draft, hold_id=None, charge=0)
            return error_response(exc, request_id, extra)
        return Call(request_id, started, request_type, request.url.path, key, parsed, model, hold_id,
                    draft, extra)

    # --- pricing ----------------------------------------------------------------------

    def prompt_estimate(self, call: Call) -> int:
        return estimate_tokens(call.parsed.input_chars)

    @staticmethod
    def price(catalog: Catalog, cand: Candidate, usage: Usage) -> tuple[int, int, TokenUsage]:
        tokens = TokenUsage(usage.prompt_tokens, usage.cached_tokens, usage.completion_tokens,
                            usage.reasoning_tokens)
        charge = token_cost(cand.model.prices, tokens)
        cost = token_cost(catalog.costs.get((cand.channel.name, cand.upstream_model), ZERO), tokens)
        return charge, cost, tokens

    def fill_usage(self, call: Call, cand: Candidate, tokens: TokenUsage, cost: int) -> None:
        d = call.draft
        d.prompt_tokens, d.cached_tokens = tokens.prompt_tokens, tokens.cached_tokens
        d.completion_tokens, d.reasoning_tokens = tokens.completion_tokens, tokens.reasoning_tokens
        d.upstream_cost, d.upstream_model = cost, cand.upstream_model
        d.channel_id, d.channel_name = cand.channel.id, cand.channel.name
        if cand.model.public_id != call.model.public_id:
            d.public_model = cand.model.public_id

    # --- upstream ---------------------------------------------------------------------

    def channel_config(self, cand: Candidate) -> ChannelConfig:
        ch = cand.channel
        base = ch.base_url.replace("{sandbox}", self.settings.sandbox_url)
        return ChannelConfig(name=ch.name, protocol=ch.protocol, base_url=base, api_key=ch.secret(),
                             extra_headers=dict(ch.extra_headers),
                             timeout=ch.timeout_seconds or self.settings.upstream_timeout_seconds)

    def note_attempt(self, call: Call, cand: Candidate, started: float, health: list[HealthChange],
                     err: ProviderError | None = None, status: int | None = 200) -> None:
        latency = int((time.perf_counter() - started) * 1000)
        call.draft.attempts.append(AttemptDraft(
            attempt_no=len(call.draft.attempts) + 1, channel_id=cand.channel.id,
            channel_name=cand.channel.name, upstream_model=cand.upstream_model,
            status="ok" if err is None else "error", http_status=err.status if err else status,
            latency_ms=latency, error="" if err is None else f"{err.kind}: {err.message}"[:500]))
        if err is None:
            if self.health.record_success(cand.channel.id) or not cand.channel.healthy:
                health.append(HealthChange(cand.channel.id, True, latency_ms=latency))
        elif counts_against_channel(err) and self.health.record_failure(cand.channel.id):
            health.append(HealthChange(cand.channel.id, False, error=err.message, latency_ms=latency))
            self.cache.invalidate_all()

    async def handle(self, request: Request, request_type: str) -> Response:
        request_id, started = new_request_id(), time.perf_counter()
        self._follow_remote()
        admitted = await self.admit(request, request_type, request_id, started)
        if isinstance(admitted, Response):
            return admitted
        call = admitted
        catalog = await self.cache.catalog()
        plan = plan_candidates(catalog, call.model, request_type, self.health, self.rng)
        if call.parsed.stream:
            from apiany.gateway.streaming import stream_call

            return await stream_call(self, call, catalog, plan)
        return await self.unary_call(call, catalog, plan)

    async def first_success(self, call: Call, plan: list[Candidate], health: list[HealthChange],
                            attempt: Callable[[Candidate], Awaitable[T]]) -> tuple[Candidate, T] | ProviderError | None:
        """Try `attempt` on each candidate under the model's fallback rules,
        recording every attempt: the serving candidate and its result, else
        the last error (None when there was no candidate)."""
        last_err: ProviderError | None = None
        for i, cand in enumerate(plan):
            t = time.perf_counter()
            try:
                result = await attempt(cand)
            except ProviderError as err:
                last_err = err
                self.note_attempt(call, cand, t, health, err)
                if is_retryable(err, call.model.retry_on) and i + 1 < len(plan):
                    continue
                break
            self.note_attempt(call, cand, t, health)
            return cand, result
        return last_err

    async def unary_call(self, call: Call, catalog: Catalog, plan: list[Candidate]) -> Response:
        health: list[HealthChange] = []

        async def attempt(cand: Candidate):
            adapter = get_adapter(cand.channel.protocol)
            req = adapter.build_request(self.channel_config(cand), call.request_type,
                                        call.parsed.body, cand.upstream_model)
            resp = await open_upstream(req, connect_timeout=self.settings.upstream_connect_timeout_seconds)
            data = await read_body(resp)
            out, usage = adapter.parse_response(call.request_type, resp.status, data, resp.headers,
                                                model=cand.model.public_id)
            return data, out, usage

        served = await self.first_success(call, plan, health, attempt)
        if not isinstance(served, tuple):
            return await self.fail(call, served, health)
        cand, (data, out, usage) = served
        if usage.estimated and usage.prompt_tokens == 0:
            usage.prompt_tokens = self.prompt_estimate(call)
        charge, cost, tokens = self.price(catalog, cand, usage)
        self.fill_usage(call, cand, tokens, cost)
        call.draft.latency_ms = call.elapsed_ms()
        bodies = self.bodies(call, data.decode("utf-8", "replace"))
        await run_db_shielded(finalize_request, call.draft, hold_id=call.hold_id, charge=charge,
                              bodies=bodies, health=health)
        return Response(fastjson.dumps(out), media_type="application/json", headers=call.headers())

    def bodies(self, call: Call, response_text: str) -> tuple[str, str] | None:
        if not call.key.log_content:
            return None
        return (call.parsed.raw[:BODY_LOG_LIMIT].decode("utf-8", "replace"), response_text[:BODY_LOG_LIMIT])

    async def fail(self, call: Call, err: ProviderError | None, health: list[HealthChange]) -> Response:
        exc = client_error_for(err, len(call.draft.attempts))
        d = call.draft
        d.status, d.http_status, d.latency_ms = "error", exc.status_code, call.elapsed_ms()
        d.error_type, d.error_summary = exc.code or exc.error_type, exc.message[:500]
        await run_db_shielded(finalize_request, d, hold_id=call.hold_id, charge=0, health=health)
        return error_response(exc, call.request_id, call.rate_headers)
