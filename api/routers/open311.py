"""Report intake compatible with Open311 GeoReport v2, so existing complaint apps post unchanged.

``GET /open311/v2/services.json`` lists the city's categories, ``POST /open311/v2/requests.json``
(form-encoded as the standard says, or JSON) validates a service request, pseudonymises the
reporter (phone, e-mail, account, device) with a keyed hash and publishes a
:class:`~kendali.records.Complaint` to the reports topic, ``GET
/open311/v2/requests/{id}.json`` tells its status: the incident it joined, if any. Errors use
GeoReport's shape, ``[{"code": 400, "description": "..."}]``. Personal data stops here: only the
pseudonym travels to Kafka, Redis and logs.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import State
from detectors.categories import CATEGORIES
from kendali.codec import encode
from kendali.pseudonym import pseudonymise, redact_contacts
from kendali.records import Complaint

router = APIRouter(prefix="/open311/v2", tags=["open311"])

IDENTITY_FIELDS = ("phone", "email", "account_id", "device_id")
#: Personal fields of GeoReport v2 that are dropped at intake (never stored, never forwarded).
DROPPED_FIELDS = ("first_name", "last_name", *IDENTITY_FIELDS)
REPORT_TTL_S = 30 * 24 * 3600


class IntakeError(Exception):
    """A request Open311 clients must correct; answered as GeoReport's error list."""

    def __init__(self, code: int, description: str):
        super().__init__(description)
        self.code = code
        self.description = description


def _error(code: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": code, "description": description}], status_code=code)


def _service_name(code: str) -> str:
    return code.replace("_", " ").capitalize()


@router.get("/services.json")
async def services(state: State) -> list[dict]:
    """The service list: one service per report category, grouped as the dataflow groups them."""
    return [
        {
            "service_code": code,
            "service_name": _service_name(code),
            "description": f"{_service_name(code)} ({', '.join(state.city.agencies_for(code))})",
            "metadata": False,
            "type": "realtime",
            "keywords": code,
            "group": group,
        }
        for code, group in CATEGORIES.items()
    ]


async def _fields(request: Request) -> dict:
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    try:
        if kind == "application/json":
            data = orjson.loads(await request.body())
            if not isinstance(data, dict):
                raise IntakeError(400, "JSON body must be an object")
            return data
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    except orjson.JSONDecodeError as exc:
        raise IntakeError(400, f"body is not valid JSON: {exc}") from None


def _coordinate(fields: dict, name: str, lo: float, hi: float) -> float | None:
    value = fields.get(name)
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise IntakeError(400, f"{name} must be a number, got {value!r}") from None
    if not lo <= number <= hi:
        raise IntakeError(400, f"{name}={number} is outside [{lo}, {hi}]")
    return number


def _text(fields: dict, name: str, limit: int) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise IntakeError(400, f"{name} must be text")
    if len(value) > limit:
        raise IntakeError(400, f"{name} longer than {limit} characters")
    return value.strip() or None


def complaint_from_request(fields: dict, state, now: datetime) -> Complaint:
    """Validate a GeoReport v2 request and turn it into a pseudonymised complaint."""
    code = _text(fields, "service_code", 60)
    if not code:
        raise IntakeError(400, "service_code is required (see services.json)")
    if code not in CATEGORIES:
        raise IntakeError(404, f"unknown service_code {code!r} (see services.json)")
    lat = _coordinate(fields, "lat", -90, 90)
    lon = _coordinate(fields, "long", -180, 180)
    if (lat is None) != (lon is None):
        raise IntakeError(400, "lat and long must be given together")
    address = _text(fields, "address_string", 300)
    address = redact_contacts(address) if address else None
    if lat is None and not address:
        raise IntakeError(400, "a location is required: lat and long, or address_string")
    description = redact_contacts(_text(fields, "description", 4000) or "")
    media = _text(fields, "media_url", 1000)
    identity = next((str(fields[f]) for f in IDENTITY_FIELDS if fields.get(f)), None)
    return Complaint(
        id=f"o311-{uuid.uuid4().hex[:16]}",
        channel="open311",
        ts=now,
        text=f"{description} {media}".strip() if media else description,
        category=code,
        lat=lat,
        lon=lon,
        place=address,
        reporter=pseudonymise(identity, state.settings.pseudonym_key) if identity else None,
    )


@router.post("/requests.json", status_code=201)
async def create_request(request: Request, state: State):
    """Create a service request (GeoReport v2): answers its ``service_request_id``."""
    try:
        complaint = complaint_from_request(await _fields(request), state, datetime.now(UTC))
    except IntakeError as exc:
        return _error(exc.code, exc.description)
    publisher = state.publisher()
    try:
        publisher("complaints", complaint.id.encode(), encode(complaint))
        await asyncio.to_thread(publisher.flush, 10.0)
    except Exception as exc:
        return _error(503, f"report not accepted, the message broker is unavailable: {exc}")
    record = {
        "service_code": complaint.category,
        "description": complaint.text,
        "requested_datetime": complaint.ts.isoformat(),
        "lat": complaint.lat,
        "long": complaint.lon,
        "address": complaint.place,
    }
    await state.redis.set(state.keys.report(complaint.id), orjson.dumps(record), ex=REPORT_TTL_S)
    notice = "Laporan diterima / report received; it is being analysed with nearby reports."
    return JSONResponse(
        [{"service_request_id": complaint.id, "service_notice": notice, "account_id": None}],
        status_code=201,
    )


def _status_notes(incident: dict | None, restricted: frozenset[str]) -> str:
    """What a requester is told about the incident its report joined. The explanation may
    come from other callers' reports, so a restricted category's is not repeated.

    >>> inc = {"id": "INC-1", "status": "new", "category": "family_help", "explanation": "x"}
    >>> _status_notes(inc, frozenset({"family_help"}))
    'part of incident INC-1 (new)'
    >>> _status_notes(dict(inc, category="fire"), frozenset({"family_help"}))
    'part of incident INC-1 (new): x'
    """
    if incident is None:
        return "received; not (yet) part of an incident"
    head = f"part of incident {incident['id']} ({incident['status']})"
    if incident["category"] in restricted:
        return head
    return f"{head}: {incident['explanation']}"


async def _incident_with(state, report_id: str) -> dict | None:
    ref = f"report:{report_id}"
    for raw_id in await state.redis.zrevrange(state.keys.incidents, 0, 999):
        raw = await state.redis.hget(state.keys.incident(raw_id.decode()), "json")
        if raw and ref.encode() in raw:
            return orjson.loads(raw)
    return None


@router.get("/requests/{request_id}.json")
async def get_request(request_id: str, state: State):
    """Status of one request: ``open`` while its incident is active, with the incident id."""
    raw = await state.redis.get(state.keys.report(request_id))
    if raw is None:
        return _error(404, f"no service request {request_id!r}")
    record = orjson.loads(raw)
    incident = await _incident_with(state, request_id)
    closed = incident is not None and incident["status"] in ("resolved", "closed", "false_alarm")
    notes = _status_notes(incident, state.city.restricted)
    return [
        {
            "service_request_id": request_id,
            "status": "closed" if closed else "open",
            "status_notes": notes,
            "service_name": _service_name(record["service_code"]),
            "service_code": record["service_code"],
            "description": record["description"],
            "agency_responsible": ", ".join(incident["agencies"]) if incident else None,
            "requested_datetime": record["requested_datetime"],
            "updated_datetime": incident["last_seen"] if incident else record["requested_datetime"],
            "address": record["address"],
            "lat": record["lat"],
            "long": record["long"],
        }
    ]
