"""The HTTP edge for source systems: `POST /v1/reports` (one report, or a JSON array of them) and
`GET /v1/reports/{external_id}`. An API key (`X-API-Key`, huying.auth) names the source system (401 without one);
each key has its own rate limit (429); bodies are size-limited (413); a bad report is refused with 422 naming the
field and reason. A report read back has its contact's personal data masked (huying.privacy)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response, Security
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model

from huying.auth import UNAUTHENTICATED, api_key
from huying.events import Event, ReportReceived
from huying.privacy import masked
from intake.domain import rules as channel
from intake.domain.arrivals import from_report
from intake.handlers import INTAKE

# The source system whose X-API-Key a request carries (401 otherwise), from HUYING_INTAKE_API_KEYS.
source_system = api_key(lambda settings: settings.api_keys)
_ENVELOPE = set(Event.model_fields) - {"correlation_id"}

_FIELDS: dict[str, Any] = {n: (f.annotation, f) for n, f in ReportReceived.model_fields.items() if n not in _ENVELOPE}
_FIELDS["source_system"] = (str | None, Field(None, description="Optional: must equal the API key's source system."))
# ReportReceived's payload as a source system sends it; source_system defaults to the API key's system.
ReportIn: type[BaseModel] = create_model("ReportIn", __doc__="A fault or complaint report.", **_FIELDS)
REPORTS_IN: TypeAdapter[list[Any]] = TypeAdapter(list[ReportIn])  # built once: building one costs ~1 ms


class ReportResult(BaseModel):
    """What became of a report: a ticket opened, a link to an existing ticket or incident, or a record only."""

    report_id: str = Field(description='"source_system:external_id".', examples=["10086-cc:CC20260302-000123"])
    status: Literal["opened", "linked", "recorded"]
    ticket_id: str | None = Field(None, description="Ticket opened, or ticket/incident linked to.")
    link: str | None = Field(None, description="same_line, incident_child, backfill or duplicate_customer.")
    parent_incident_id: str | None = None
    incident_opened: str | None = Field(None, description="Incident this report opened (the threshold report).")
    verified: bool | None = Field(None, description="False: customer or line unknown to CRM (standard tier).")
    reason: str | None = Field(None, description="Why nothing was opened, or a note.")
    duplicate: bool = Field(False, description="Seen before: this is the first copy's outcome; nothing new opened.")
    reported_late: bool = Field(
        False, description="reported_at is far behind its receipt (HUYING_INTAKE_LATE_REPORT_HOURS): taken, flagged."
    )


class BatchResult(BaseModel):
    results: list[ReportResult]


class TokenBucket:
    """A source system's rate limit: `rate` reports/s on average, bursts of up to `burst`. A batch larger than the
    burst is let through only from a full bucket and leaves it in debt (negative), which later requests wait out,
    so the average holds for any batch size: over any span T at most burst + rate·T + (largest batch − burst)
    reports pass."""

    def __init__(self, rate: float, burst: int, *, now: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._now = rate, burst, now
        self.tokens, self.at = float(burst), now()

    def take(self, n: int) -> float:
        """0.0 if `n` tokens were taken, else the seconds until they would be (always more than 0)."""
        now = self._now()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        needed = min(n, self.burst)
        if self.tokens >= needed:
            self.tokens -= n
            return 0.0
        return (needed - self.tokens) / self.rate


def _unprocessable(error: ValidationError, prefix: str = "") -> HTTPException:
    detail = [
        {
            "field": prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]).lstrip("."),
            "reason": e["msg"],
            "type": e["type"],
        }
        for e in error.errors(include_url=False)
    ]
    return HTTPException(422, detail=detail)


async def _body(request: Request, limit: int) -> bytes:
    if int(request.headers.get("content-length") or 0) > limit:
        raise HTTPException(413, f"request body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"request body over {limit} bytes")
    return bytes(body)


def _reports(raw: bytes, system: str, max_batch: int) -> tuple[list[ReportReceived], bool]:
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise HTTPException(422, [{"field": "body", "reason": f"not JSON: {error}", "type": "json_invalid"}]) from None
    batch = isinstance(data, list)
    items = data if batch else [data]
    if batch and not 1 <= len(items) <= max_batch:
        raise HTTPException(
            422, [{"field": "body", "reason": f"a batch holds 1 to {max_batch} reports", "type": "len"}]
        )
    try:
        parsed = REPORTS_IN.validate_python(items)
    except ValidationError as error:
        raise _unprocessable(error) if batch else _unprocessable_single(error) from None
    reports = []
    for i, item in enumerate(parsed):
        if item.source_system not in (None, system):
            where = f"[{i}].source_system" if batch else "source_system"
            raise HTTPException(403, [{"field": where, "reason": f"the API key is for {system}", "type": "forbidden"}])
        try:  # the contract's own checks (e.g. attributes a document cannot hold): the whole request is refused
            reports.append(ReportReceived(**{**item.model_dump(exclude_none=True), "source_system": system}))
        except ValidationError as error:
            refused = _unprocessable(error)
            for problem in refused.detail:
                problem["field"] = f"[{i}].{problem['field']}" if batch else problem["field"]
            raise refused from None
    return reports, batch


def _unprocessable_single(error: ValidationError) -> HTTPException:
    exc = _unprocessable(error)
    for item in exc.detail:  # type: ignore[union-attr]
        item["field"] = item["field"].removeprefix("[0]").lstrip(".") or "body"
    return exc


def http_router() -> APIRouter:
    router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=UNAUTHENTICATED)
    buckets: dict[str, TokenBucket] = {}
    one = _inline(ReportIn.model_json_schema())
    schema = {"oneOf": [one, {"type": "array", "items": one, "title": "Batch"}]}

    @router.post(
        "",
        status_code=201,
        response_model=ReportResult | BatchResult,
        summary="Submit one report, or a JSON array of reports (a batch)",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}},
        responses={
            200: {"description": "A duplicate: the first copy's outcome."},
            403: {"description": "A report names another source system than the API key's."},
            413: {},
            422: {},
            429: {},
        },
    )
    async def post_reports(request: Request, response: Response, system: str = Security(source_system)) -> Any:
        settings = request.app.state.runtime.settings
        reports, batch = _reports(await _body(request, settings.max_body_bytes), system, settings.max_batch)
        intake = request.app.state.runtime.broker.context.get(INTAKE)
        arrivals = [from_report(r) for r in reports]
        now = request.app.state.runtime.clock.now()
        for i, arrival in enumerate(arrivals):
            if problem := channel.from_the_future(arrival, now, intake.rules):
                field = f"[{i}].reported_at" if batch else "reported_at"
                raise HTTPException(422, [{"field": field, "reason": problem, "type": "in_the_future"}])
        bucket = buckets.setdefault(system, TokenBucket(settings.rate_limit_per_second, settings.rate_limit_burst))
        wait = bucket.take(len(reports))
        if wait:
            raise HTTPException(429, "rate limit exceeded", headers={"Retry-After": str(math.ceil(wait))})
        if batch:
            outcomes = await intake.take_batch(arrivals)
            failed = next((o for o in outcomes if isinstance(o, Exception)), None)
            if failed:  # every other report of the batch is kept; a retry of the batch returns their outcomes
                raise failed
            response.status_code = 200
            return BatchResult(results=[ReportResult(**vars(o)) for o in outcomes])
        results = [ReportResult(**vars(await intake.take(arrivals[0])))]
        response.status_code = 200 if results[0].duplicate else 201
        return results[0]

    @router.get("/{external_id}", summary="A report and what became of it (its contact masked)")
    async def get_report(request: Request, external_id: str, system: str = Security(source_system)) -> dict[str, Any]:
        intake = request.app.state.runtime.broker.context.get(INTAKE)
        key = f"{system}:{external_id}"
        report = await intake.store.report(key)
        if report is None:
            raise HTTPException(404, f"no report {external_id} from {system}")
        outcome = await intake.store.outcome(key)
        report.pop("_id")
        # the source system sent the contact and needs only the outcome back: least privilege, as for operators
        return masked({"report_id": key, **report, "outcome": vars(outcome) if outcome else None})

    return router


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its local $refs replaced by their definitions (the body is parsed by hand, so FastAPI
    does not put its models into the OpenAPI components)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: walk(v) for k, v in node.items()}
        return [walk(v) for v in node] if isinstance(node, list) else node

    return walk(schema)
