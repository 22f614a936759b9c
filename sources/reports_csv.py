"""Bulk import of call-centre logs (CSV) as :class:`~kendali.records.Complaint` records, for replay.

Columns are matched by name, ignoring case and spaces/underscores, with the usual aliases
(``created_at``/``waktu``/``Created Date``, ``lat``/``latitude``, ``text``/``keterangan``,
``category``/``Complaint Type``, ...). Local times without an offset are read in the zone given
(a call-centre log rarely says its zone). A reporter column (phone or account) is pseudonymised
with the deployment key at once; the number never leaves this module. Bad rows are yielded as
:class:`CsvRejected` with the line number and reason, never skipped in silence.
Delivery: a file is read once, in order; rows carry stable ids, so a replay is idempotent
downstream.

>>> import io
>>> rows = io.StringIO("created_at,lat,lon,text,phone\\n"
...                    "2017-02-21 06:10,-6.2,106.8,Banjir!,0812-1111-2222\\n"
...                    "yesterday,-6.2,106.8,Banjir,\\n")
>>> ok, bad = read_reports(rows, parse_tz("UTC+7"), source="log", pseudonym_key="k")
>>> ok.id, ok.ts.isoformat(), ok.reporter.startswith("rp_"), ok.lat
('log-2', '2017-02-21T06:10:00+07:00', True, -6.2)
>>> bad
CsvRejected(line=3, reason="created_at: unreadable time 'yesterday'")
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kendali.pseudonym import pseudonymise, redact_contacts
from kendali.records import Complaint

__all__ = ["CsvRejected", "parse_tz", "read_reports", "read_reports_csv"]

_COLUMNS = {
    "id": ("id", "report_id", "ticket", "ticket_id", "no_tiket", "pk"),
    "ts": (
        "created_at",
        "created_date",
        "timestamp",
        "ts",
        "time",
        "datetime",
        "waktu",
        "tanggal_waktu",
    ),
    "lat": ("lat", "latitude", "lintang"),
    "lon": ("lon", "lng", "long", "longitude", "bujur"),
    "category": (
        "category",
        "kategori",
        "service_code",
        "jenis",
        "complaint_type",
        "request_type",
        "service_name",
        "type",
    ),
    "title": ("title", "judul"),
    "text": (
        "text",
        "description",
        "deskripsi",
        "keterangan",
        "isi",
        "laporan",
        "descriptor",
        "details",
        "summary",
        "comment",
    ),
    "place": ("place", "address", "alamat", "lokasi", "location"),
    "channel": ("channel", "source", "sumber", "kanal"),
    "reporter": ("reporter", "phone", "caller", "msisdn", "no_hp", "telepon", "account"),
}
#: Accepted besides ISO 8601. Day-first is the Indonesian habit; a time with AM/PM is read
#: month-first, as US 311 exports write it.
_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
)
_ZONE_NAMES = {"wib": "+07:00", "wita": "+08:00", "wit": "+09:00", "utc": "+00:00", "z": "+00:00"}


@dataclass(frozen=True, slots=True)
class CsvRejected:
    """A row that could not become a report: its 1-based line in the file, and why."""

    line: int
    reason: str


def parse_tz(spec: str) -> tzinfo:
    """A time zone from ``Asia/Jakarta``, ``UTC+7``, ``+07:00``, ``-0330`` or ``WIB``/``WITA``.

    >>> parse_tz("UTC+7"), parse_tz("WITA"), parse_tz("Asia/Jakarta").key
    (datetime.timezone(datetime.timedelta(seconds=25200)), \
datetime.timezone(datetime.timedelta(seconds=28800)), 'Asia/Jakarta')
    """
    text = _ZONE_NAMES.get(spec.strip().lower(), spec.strip())
    m = re.fullmatch(r"(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?", text, re.IGNORECASE)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0)))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {spec!r}: use e.g. Asia/Jakarta or UTC+7") from None


def _parse_ts(value: str, tz: tzinfo) -> datetime:
    text = value.strip()
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        ts = None
        for fmt in _FORMATS:
            try:
                ts = datetime.strptime(text, fmt)  # noqa: DTZ007 - the zone is attached below
                break
            except ValueError:
                continue
        if ts is None:
            raise ValueError(f"unreadable time {text!r}") from None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=tz)


def _coord(value: str | None, name: str, low: float, high: float) -> float | None:
    text = (value or "").strip()
    if not text or text.lower() in ("null", "nan", "none"):
        return None
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a number") from None
    if not (math.isfinite(number) and low <= number <= high):
        raise ValueError(f"{name}: {number} is out of range")
    return number


def _columns(header: Iterable[str]) -> dict[str, str]:
    present = {re.sub(r"[\s\-]+", "_", h.strip().lower()): h for h in header if h}
    found = {}
    for field, aliases in _COLUMNS.items():
        name = next((present[a] for a in aliases if a in present), None)
        if name is not None:
            found[field] = name
    if "ts" not in found:
        raise ValueError(f"no time column: expected one of {', '.join(_COLUMNS['ts'])}")
    return found


def _row(row: dict, cols: dict, line: int, tz: tzinfo, source: str, key: str | None) -> Complaint:
    def get(field: str) -> str:
        return (row.get(cols[field]) or "").strip() if field in cols else ""

    try:
        ts = _parse_ts(get("ts"), tz)
    except ValueError as exc:
        raise ValueError(f"created_at: {exc}") from None
    lat = _coord(get("lat"), "lat", -90, 90)
    lon = _coord(get("lon"), "lon", -180, 180)
    text = redact_contacts(" ".join(t for t in (get("title"), get("text")) if t))
    reporter = get("reporter")
    if reporter and not key:
        raise ValueError("a reporter column needs a pseudonym key; identities stay out of records")
    return Complaint(
        id=get("id") or f"{source}-{line}",
        channel=get("channel") or "callcentre",
        ts=ts,
        text=text,
        category=get("category") or None,
        lat=lat if lon is not None else None,
        lon=lon if lat is not None else None,
        place=get("place") or None,
        reporter=pseudonymise(reporter, key) if reporter and key else None,
    )


def read_reports(
    stream: TextIO, tz: tzinfo, *, source: str, pseudonym_key: str | None = None
) -> Iterator[Complaint | CsvRejected]:
    """Reports (or rejections) from an open CSV stream; ``source`` prefixes generated ids."""
    reader = csv.DictReader(stream)
    cols = _columns(reader.fieldnames or [])
    for row in reader:
        line = reader.line_num
        try:
            yield _row(row, cols, line, tz, source, pseudonym_key)
        except ValueError as exc:
            yield CsvRejected(line, str(exc))


def read_reports_csv(
    path: str | Path, tz: tzinfo, *, pseudonym_key: str | None = None
) -> Iterator[Complaint | CsvRejected]:
    """Reports from a CSV file; ids default to ``<file stem>-<line>``."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as f:
        yield from read_reports(f, tz, source=path.stem, pseudonym_key=pseudonym_key)
