"""Incidents as OASIS CAP 1.2 alerts, and an ATOM feed of them, for any CAP consumer.

One alert per incident version: ``identifier`` is ``<id>-v<version>``, later versions are
``Update`` messages that reference version 1, and a false alarm is a ``Cancel``. The area is the
incident's polygon when it has one, else a circle of ``CIRCLE_KM`` around its point.

>>> inc = {"id": "INC-1", "version": 1, "category": "flood", "status": "new",
...        "severity": "Severe", "urgency": "Immediate", "certainty": "Likely", "lat": -1.25,
...        "lon": 116.87, "zone": "Balikpapan Tengah", "agencies": ["bpbd"], "sources": ["reports"],
...        "first_seen": "2026-11-27T08:00:00+08:00", "last_seen": "2026-11-27T08:05:00+08:00",
...        "score": 0.9, "explanation": "river at Siaga 2", "area": None}
>>> xml = alert_xml(inc, sender="kendali@balikpapan", sender_name="Kendali")
>>> b"<msgType>Alert</msgType>" in xml, b"<circle>-1.25,116.87 0.5</circle>" in xml
(True, True)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from kendali.codec import parse_ts

__all__ = ["ATOM_NS", "CAP_NS", "alert_element", "alert_xml", "atom_feed"]

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
CIRCLE_KM = 0.5

ET.register_namespace("cap", CAP_NS)
ET.register_namespace("atom", ATOM_NS)

#: Kendali category -> CAP category.
CAP_CATEGORY = {
    "flood": "Met",
    "weather_warning": "Met",
    "landslide": "Geo",
    "fire": "Fire",
    "traffic_accident": "Transport",
    "traffic_incident": "Transport",
    "congestion": "Transport",
    "fallen_tree": "Safety",
    "crime": "Security",
    "public_order": "Safety",
    "health_emergency": "Health",
    "family_help": "Health",
    "infrastructure": "Infra",
    "detector_fault": "Infra",
    "gauge_fault": "Infra",
}


def cap_time(text: str) -> str:
    """A CAP dateTime (seconds, explicit offset) from an ISO 8601 timestamp.

    >>> cap_time("2026-11-27T00:05:00.250000+00:00")
    '2026-11-27T00:05:00+00:00'
    """
    return parse_ts(text).isoformat(timespec="seconds")


def _sub(parent: ET.Element, tag: str, text: str | None = None, ns: str = CAP_NS) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _msg_type(inc: dict) -> str:
    if inc["status"] == "false_alarm":
        return "Cancel"
    return "Alert" if inc["version"] == 1 else "Update"


def _area(info: ET.Element, inc: dict) -> None:
    area = _sub(info, "area")
    _sub(area, "areaDesc", inc.get("zone") or "outside the city's zones")
    ring = [tuple(p) for p in inc.get("area") or []]
    if len(ring) >= 3:
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        _sub(area, "polygon", " ".join(f"{lat:.6f},{lon:.6f}" for lon, lat in ring))
    else:
        _sub(area, "circle", f"{inc['lat']:g},{inc['lon']:g} {CIRCLE_KM:g}")


def _info(alert: ET.Element, inc: dict, sender_name: str, web: str | None) -> None:
    finished = inc["status"] in ("resolved", "closed")
    info = _sub(alert, "info")
    _sub(info, "language", "en")
    _sub(info, "category", CAP_CATEGORY.get(inc["category"], "Other"))
    _sub(info, "event", inc["category"].replace("_", " "))
    if finished:
        _sub(info, "responseType", "AllClear")
    _sub(info, "urgency", "Past" if finished else inc["urgency"])
    _sub(info, "severity", inc["severity"])
    _sub(info, "certainty", inc["certainty"])
    _sub(info, "onset", cap_time(inc["first_seen"]))
    _sub(info, "senderName", sender_name)
    where = f" in {inc['zone']}" if inc.get("zone") else ""
    _sub(info, "headline", f"{inc['category'].replace('_', ' ').capitalize()}{where}"[:160])
    _sub(info, "description", inc["explanation"])
    if web:
        _sub(info, "web", web)
    for name in ("status", "version", "agencies", "sources", "score"):
        value = inc.get(name)
        param = _sub(info, "parameter")
        _sub(param, "valueName", f"kendali:{name}")
        _sub(param, "value", ",".join(value) if isinstance(value, list) else str(value))
    _area(info, inc)


def alert_element(inc: dict, sender: str, sender_name: str, web: str | None = None) -> ET.Element:
    """The ``<alert>`` element of one incident version (its JSON form as stored in Redis)."""
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(alert, "identifier", f"{inc['id']}-v{inc['version']}")
    _sub(alert, "sender", sender)
    _sub(alert, "sent", cap_time(inc["last_seen"]))
    _sub(alert, "status", "Actual")
    _sub(alert, "msgType", _msg_type(inc))
    _sub(alert, "scope", "Public")
    if inc["version"] > 1:
        _sub(alert, "references", f"{sender},{inc['id']}-v1,{cap_time(inc['first_seen'])}")
    _sub(alert, "incidents", inc["id"])
    _info(alert, inc, sender_name, web)
    return alert


def alert_xml(inc: dict, sender: str, sender_name: str, web: str | None = None) -> bytes:
    """One incident as a CAP 1.2 XML document."""
    element = alert_element(inc, sender, sender_name, web)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS)


def atom_feed(
    incidents: Iterable[dict], title: str, self_url: str, cap_url: str, sender: str
) -> bytes:
    """An ATOM feed of incidents, each entry linking to (and containing) its CAP alert.

    ``cap_url`` is a format string with ``{id}``, the URL of one incident's CAP document.
    """
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, "title", title, ATOM_NS)
    _sub(feed, "id", self_url, ATOM_NS)
    _sub(feed, "updated", datetime.now(UTC).isoformat(timespec="seconds"), ATOM_NS)
    ET.SubElement(feed, f"{{{ATOM_NS}}}link", rel="self", href=self_url)
    for inc in incidents:
        entry = _sub(feed, "entry", ns=ATOM_NS)
        url = cap_url.format(id=inc["id"])
        _sub(entry, "id", f"{url}#v{inc['version']}", ATOM_NS)
        _sub(entry, "title", f"{inc['category']} {inc['id']} ({inc['status']})", ATOM_NS)
        _sub(entry, "updated", cap_time(inc["last_seen"]), ATOM_NS)
        ET.SubElement(
            entry, f"{{{ATOM_NS}}}link", rel="alternate", type="application/cap+xml", href=url
        )
        content = _sub(entry, "content", ns=ATOM_NS)
        content.set("type", "application/cap+xml")
        content.append(alert_element(inc, sender, title, url))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
