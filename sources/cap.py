"""BMKG weather warnings in CAP 1.2 (OASIS Common Alerting Protocol): parse and map onto zones.

:func:`parse_cap` turns CAP XML into typed records or raises :class:`CapError` with a reason
the dataflow writes to the dead-letter topic. Parsing goes through ``defusedxml``: DTDs, entity
expansion and external references are refused, so a hostile warning cannot blow up memory or
read files. :func:`cap_to_signals` clips each warning area to the city and names the zones it
covers; a warning that misses the city gives no signal. :func:`read_cap` fetches from a file or
URL (at-most-once: a failed fetch raises, nothing is kept).

>>> alert = parse_cap(b'''<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
... <identifier>X1</identifier><sender>bmkg</sender><sent>2026-11-27T14:00:00+08:00</sent>
... <status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
... <info><category>Met</category><event>Hujan Lebat</event><urgency>Immediate</urgency>
... <severity>Severe</severity><certainty>Likely</certainty>
... <area><areaDesc>Balikpapan</areaDesc><polygon>-1.3,116.8 -1.2,116.8 -1.2,116.9 -1.3,116.8
... </polygon></area></info></alert>''')
>>> alert.identifier, alert.infos[0].event, alert.infos[0].areas[0].polygons[0][0]
('X1', 'Hujan Lebat', (116.8, -1.3))
>>> parse_cap(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>')
Traceback (most recent call last):
...
sources.cap.CapError: refused XML construct: DTDForbidden
"""

from __future__ import annotations

import math
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import shapely
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from detectors.hydromet_signals import area_ring
from geo.zones import ZoneIndex
from kendali.records import CAP_CERTAINTY, CAP_SEVERITY, CAP_URGENCY, Signal

__all__ = [
    "CapAlert",
    "CapArea",
    "CapError",
    "CapInfo",
    "cap_to_signals",
    "parse_cap",
    "read_cap",
]

NS = "urn:oasis:names:tc:emergency:cap:1.2"
MAX_CAP_BYTES = 1_000_000
STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")


class CapError(ValueError):
    """A CAP message that cannot be accepted; ``reason`` says why, for the dead-letter topic."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CapArea:
    """One ``<area>``: polygons as closed rings of ``(lon, lat)``; circles as (lon, lat, km)."""

    area_desc: str
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    circles: tuple[tuple[float, float, float], ...] = ()
    geocodes: tuple[tuple[str, str], ...] = ()

    def geometry(self) -> BaseGeometry:
        """The area as one shapely geometry (circles approximated by 64-gons in degrees)."""
        parts = [Polygon(ring) for ring in self.polygons]
        for lon, lat, km in self.circles:
            circle = Point(lon, lat).buffer(km / 111.32, quad_segs=16)
            parts.append(
                shapely.affinity.scale(circle, 1 / max(math.cos(math.radians(lat)), 0.01), 1)
            )
        return shapely.make_valid(shapely.union_all(parts)) if parts else Polygon()


@dataclass(frozen=True, slots=True)
class CapInfo:
    """One ``<info>`` block (one language, one event)."""

    event: str
    urgency: str
    severity: str
    certainty: str
    categories: tuple[str, ...]
    language: str = "en-US"
    onset: datetime | None = None
    effective: datetime | None = None
    expires: datetime | None = None
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    areas: tuple[CapArea, ...] = ()


@dataclass(frozen=True, slots=True)
class CapAlert:
    """A CAP 1.2 ``<alert>``; ``references`` are ``(sender, identifier, sent)`` triples."""

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    infos: tuple[CapInfo, ...] = ()
    references: tuple[tuple[str, str, str], ...] = ()
    note: str | None = None


def _text(el: Element, name: str) -> str | None:
    child = el.find(f"{{{NS}}}{name}")
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def _required(el: Element, name: str, where: str) -> str:
    value = _text(el, name)
    if value is None:
        raise CapError(f"{where}: missing <{name}>")
    return value


def _enum(el: Element, name: str, allowed: tuple[str, ...], where: str) -> str:
    value = _required(el, name, where)
    if value not in allowed:
        raise CapError(f"{where}: <{name}> must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _time(value: str | None, what: str) -> datetime | None:
    if value is None:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise CapError(f"<{what}> is not an ISO 8601 time: {value!r}") from None
    if ts.utcoffset() is None:
        raise CapError(f"<{what}> has no UTC offset: {value!r}")
    return ts


def _pairs(text: str, what: str) -> list[tuple[float, float]]:
    out = []
    for pair in text.split():
        try:
            lat, lon = (float(x) for x in pair.split(","))
        except ValueError:
            raise CapError(f"<{what}> has a bad coordinate pair {pair!r}") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise CapError(f"<{what}> coordinate out of range: {pair!r}")
        out.append((lon, lat))
    return out


def _polygon(text: str) -> tuple[tuple[float, float], ...]:
    ring = _pairs(text, "polygon")
    if len(ring) < 4 or ring[0] != ring[-1]:
        raise CapError("<polygon> needs at least 4 pairs with the first repeated last")
    return tuple(ring)


def _circle(text: str) -> tuple[float, float, float]:
    try:
        centre, radius = text.split()
        (lon, lat), km = _pairs(centre, "circle")[0], float(radius)
    except ValueError:
        raise CapError(f"<circle> must be 'lat,lon radius_km', got {text!r}") from None
    if km < 0:
        raise CapError(f"<circle> radius is negative: {text!r}")
    return lon, lat, km


def _area(el: Element) -> CapArea:
    q = f"{{{NS}}}"
    return CapArea(
        area_desc=_required(el, "areaDesc", "area"),
        polygons=tuple(_polygon(p.text or "") for p in el.findall(f"{q}polygon")),
        circles=tuple(_circle((c.text or "").strip()) for c in el.findall(f"{q}circle")),
        geocodes=tuple(
            (_text(g, "valueName") or "", _text(g, "value") or "")
            for g in el.findall(f"{q}geocode")
        ),
    )


def _info(el: Element, n: int) -> CapInfo:
    where = f"info {n}"
    categories = tuple((c.text or "").strip() for c in el.findall(f"{{{NS}}}category"))
    if not categories:
        raise CapError(f"{where}: missing <category>")
    return CapInfo(
        event=_required(el, "event", where),
        urgency=_enum(el, "urgency", CAP_URGENCY, where),
        severity=_enum(el, "severity", CAP_SEVERITY, where),
        certainty=_enum(el, "certainty", (*CAP_CERTAINTY, "Very Likely"), where),
        categories=categories,
        language=_text(el, "language") or "en-US",
        onset=_time(_text(el, "onset"), "onset"),
        effective=_time(_text(el, "effective"), "effective"),
        expires=_time(_text(el, "expires"), "expires"),
        sender_name=_text(el, "senderName"),
        headline=_text(el, "headline"),
        description=_text(el, "description"),
        instruction=_text(el, "instruction"),
        web=_text(el, "web"),
        areas=tuple(_area(a) for a in el.findall(f"{{{NS}}}area")),
    )


def _references(text: str | None) -> tuple[tuple[str, str, str], ...]:
    out = []
    for ref in (text or "").split():
        parts = ref.split(",")
        if len(parts) != 3:
            raise CapError(f"<references> entry must be sender,identifier,sent: {ref!r}")
        out.append((parts[0], parts[1], parts[2]))
    return tuple(out)


def parse_cap(xml: bytes) -> CapAlert:
    """Parse one CAP 1.2 alert; every problem is a :class:`CapError` with a readable reason."""
    if len(xml) > MAX_CAP_BYTES:
        raise CapError(f"CAP message larger than {MAX_CAP_BYTES} bytes")
    try:
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise CapError(f"refused XML construct: {type(exc).__name__}") from None
    except ParseError as exc:
        raise CapError(f"not well-formed XML: {exc}") from None
    except LookupError as exc:  # an XML declaration naming an encoding Python does not know
        raise CapError(f"unknown XML encoding: {exc}") from None
    if root.tag != f"{{{NS}}}alert":
        raise CapError(f"root element must be CAP 1.2 <alert> in {NS}, got {root.tag}")
    sent = _time(_required(root, "sent", "alert"), "sent")
    return CapAlert(
        identifier=_required(root, "identifier", "alert"),
        sender=_required(root, "sender", "alert"),
        sent=sent,
        status=_enum(root, "status", STATUSES, "alert"),
        msg_type=_enum(root, "msgType", MSG_TYPES, "alert"),
        scope=_enum(root, "scope", ("Public", "Restricted", "Private"), "alert"),
        infos=tuple(_info(el, n) for n, el in enumerate(root.findall(f"{{{NS}}}info"), 1)),
        references=_references(_text(root, "references")),
        note=_text(root, "note"),
    )


def read_cap(source: str, timeout_s: float = 30.0) -> bytes:
    """Bytes of a CAP message from a path or an ``http(s)://``/``file:`` URL, size-capped."""
    if "://" not in source and not source.startswith("file:"):
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise CapError(f"cannot read {source}: {exc.strerror}") from None
    elif source.startswith(("http://", "https://", "file:")):
        try:
            with urllib.request.urlopen(source, timeout=timeout_s) as resp:
                data = resp.read(MAX_CAP_BYTES + 1)
        except OSError as exc:
            raise CapError(f"cannot fetch {source}: {exc}") from None
    else:
        raise CapError(f"unsupported URL scheme in {source!r}")
    if len(data) > MAX_CAP_BYTES:
        raise CapError(f"{source}: larger than {MAX_CAP_BYTES} bytes")
    return data


_FLOOD_WORDS = ("flood", "banjir", "rob", "genangan", "luapan")


def _category(info: CapInfo) -> str:
    text = f"{info.event} {info.headline or ''}".lower()
    return "flood" if any(w in text for w in _FLOOD_WORDS) else "weather_warning"


def _root_id(alert: CapAlert) -> str:
    """The identifier an update or cancel continues: the first referenced alert's, else its own."""
    return alert.references[0][1] if alert.references else alert.identifier


def cap_to_signals(
    alert: CapAlert, zone_index: ZoneIndex, city_name: str, now: datetime
) -> list[Signal]:
    """Signals for the parts of a warning that fall on the city, one per info block and area.

    Only ``Actual`` alerts count. An ``Update`` continues the episode of the alert it references,
    a ``Cancel`` (or an expired info) clears it. ``area`` is the warning clipped to the city's
    zones, ``zone`` the most covered zone, ``details["zones"]`` every zone touched.
    """
    if alert.status != "Actual" or alert.msg_type not in ("Alert", "Update", "Cancel"):
        return []
    city = shapely.union_all([z.geometry for z in zone_index.zones])
    root = _root_id(alert)
    out = []
    for i, info in enumerate(alert.infos):
        expired = info.expires is not None and info.expires <= now
        state = (
            "clear"
            if alert.msg_type == "Cancel" or expired
            else ("open" if alert.msg_type == "Alert" else "update")
        )
        for j, area in enumerate(info.areas):
            clipped = area.geometry().intersection(city)
            if clipped.is_empty or clipped.area == 0:
                continue
            out.append(
                _signal(
                    alert,
                    info,
                    area,
                    clipped,
                    zone_index,
                    city_name,
                    state,
                    f"cap:{alert.sender}:{root}:{i}:{j}",
                )
            )
    return out


def _signal(alert, info, area, clipped, zone_index, city_name, state, key) -> Signal:
    zones = sorted(
        ((z.geometry.intersection(clipped).area, z.name) for z in zone_index.touching(clipped)),
        reverse=True,
    )
    names = [name for share, name in zones if share > 0]
    point = clipped.representative_point()
    ts = info.onset or info.effective or alert.sent
    until = f" until {info.expires.strftime('%d %b %H:%M')}" if info.expires else ""
    shown = ", ".join(names[:4]) + (f" +{len(names) - 4}" if len(names) > 4 else "")
    explanation = (
        f"{info.sender_name or alert.sender}: {info.event} ({info.severity}) over {area.area_desc}"
        f" - {len(names)} zone(s) of {city_name}: {shown}{until}"
    )
    return Signal(
        source="cap",
        kind="incident",
        category=_category(info),
        key=key,
        episode=key,
        state=state,
        ts=ts,
        lat=round(point.y, 6),
        lon=round(point.x, 6),
        score=round((CAP_SEVERITY.index(info.severity) / 4), 3),
        severity=info.severity,
        explanation=" ".join(explanation.split()),
        zone=names[0] if names else None,
        evidence=(f"cap:{alert.sender}:{alert.identifier}",),
        area=area_ring(clipped),
        urgency=info.urgency,
        certainty="Likely" if info.certainty == "Very Likely" else info.certainty,
        details={
            "zones": names,
            "event": info.event,
            "headline": info.headline,
            "area_desc": area.area_desc,
            "identifier": alert.identifier,
            "msg_type": alert.msg_type,
            "expires": info.expires.isoformat() if info.expires else None,
            "city_share": round(clipped.area / max(area.geometry().area, 1e-12), 3),
        },
    )
