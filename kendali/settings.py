"""Deployment settings: where the servers are, which city, which limits.

Read from a TOML file (``kendali.toml`` in the working directory, or ``KENDALI_SETTINGS``), then
overridden by environment variables ``KENDALI_<SECTION>_<NAME>`` (for instance
``KENDALI_KAFKA_BOOTSTRAP=broker:9092``). The city itself (detectors, gauges, zones, routing)
is not here: ``city`` points at its folder, see :mod:`kendali.city`.

>>> s = Settings()
>>> s.kafka.bootstrap, s.topics.traffic
('127.0.0.1:19092', 'atcs.readings')
>>> s.with_overrides({"KENDALI_API_PORT": "9000"}).api.port
9000
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from kendali.codec import Limits

__all__ = ["Settings", "SettingsError", "load_settings"]

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A settings file or variable is missing, unreadable or of the wrong type."""


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap: str = "127.0.0.1:19092"
    #: Extra librdkafka configuration (security protocol, SASL, ...), given to every client.
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TopicSettings:
    traffic: str = "atcs.readings"
    hydromet: str = "hydromet.readings"
    complaints: str = "complaints.reports"
    warnings: str = "warnings.cap"
    actions: str = "incidents.actions"
    alerts: str = "incidents.alerts"
    deadletter: str = "kendali.deadletter"
    partitions: int = 4


@dataclass(frozen=True)
class RedisSettings:
    url: str = "redis://127.0.0.1:16379/0"
    #: Prefix of every key Kendali writes, so that several cities can share one server.
    prefix: str = "kendali"
    #: Maximum length of the alert stream (approximate trimming).
    stream_maxlen: int = 100_000
    #: How long closed incidents stay readable before they leave the index and expire.
    closed_retention_s: int = 7 * 24 * 3600


@dataclass(frozen=True)
class EmbeddedSettings:
    """The child-process broker and Redis that ``kendali up``/``demo`` start on loopback."""

    enabled: bool = True
    kafka_port: int = 19092
    redis_port: int = 16379
    workdir: str = ".kendali"


@dataclass(frozen=True)
class ApiSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: tuple[str, ...] = ()
    #: Optional raster tile server for the wall's base map (the wall works without one).
    tile_url: str = ""
    #: Largest request body accepted (bytes); larger ones are refused with 413.
    max_body_bytes: int = 1_048_576
    #: Public report intake per client address: sustained reports per minute, and burst.
    intake_per_minute: int = 30
    intake_burst: int = 10


@dataclass(frozen=True)
class FlowSettings:
    workers: int = 1
    recovery_dir: str = ".kendali/recovery"
    recovery_partitions: int = 2
    snapshot_interval_s: int = 10
    backup_interval_s: int = 30
    #: Most messages one poll of one partition hands to the flow. Large polls cost nothing at
    #: live rates (a poll returns what has arrived) and, when catching up, make fewer and larger
    #: items: with 2 processes each shard batch that crosses to the other is one exchange.
    batch_size: int = 10_000
    #: Detector state is split into this many keys, spread over workers (Bytewax routes by key
    #: hash). Fewer, larger shards make larger bank calls (each call has a fixed numpy cost of
    #: about half a millisecond): at live rates 8 shards cost one process 0.83 of a core at
    #: 210k readings/s, 2 shards 0.68 (development probe). Keep at least as many as workers,
    #: and check the split: 2 split 1/1 over 2 workers, 8 split 4/4, 16 split 9/7 (measured).
    traffic_shards: int = 2
    #: librdkafka settings for the dataflow's consumers only. A broker holds an empty fetch for
    #: up to fetch.wait.max.ms (500 by default): at low data rates that is added latency.
    consumer_config: dict = field(default_factory=lambda: {"fetch.wait.max.ms": 50})
    #: Port of the dataflow's Prometheus endpoint (``GET /metrics``: Bytewax's per-step timings,
    #: Kendali's decoded/dead-lettered counters and consumer lag); 0 = off. Bytewax binds it
    #: on all interfaces, so open it only where the network is trusted.
    metrics_port: int = 0
    #: Python's cyclic GC runs its youngest generation after this many allocations (0 keeps
    #: Python's default of 700, with which a probe of the throughput benchmark ran 241k instead
    #: of 335k readings/s). See kendali/runtime.py.
    gc_threshold: int = 100_000
    #: Milliseconds the dataflow's worker may hold the GIL while another thread waits for it
    #: (0 keeps Python's 5): a Bytewax cluster's main thread asks every millisecond. See
    #: kendali/runtime.py.
    gil_switch_ms: int = 50
    max_message_bytes: int = 65_536
    max_future_s: int = 3600
    max_past_days: int = 365 * 30

    @property
    def limits(self) -> Limits:
        return Limits(
            max_bytes=self.max_message_bytes,
            max_future=timedelta(seconds=self.max_future_s),
            max_past=timedelta(days=self.max_past_days),
        )


@dataclass(frozen=True)
class Settings:
    city: str = str(ROOT / "cities" / "balikpapan")
    #: Folder of the shared public data sets (NAB, hydromet, complaints, geography).
    data_dir: str = str(ROOT.parent / "shared" / "data")
    #: Key for pseudonymising reporter identities at intake (HMAC-SHA256). Set it in production.
    pseudonym_key: str = "kendali-demo-key-change-me"
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    topics: TopicSettings = field(default_factory=TopicSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    embedded: EmbeddedSettings = field(default_factory=EmbeddedSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    flow: FlowSettings = field(default_factory=FlowSettings)

    def with_overrides(self, env: dict[str, str]) -> Settings:
        """Apply ``KENDALI_<SECTION>_<NAME>`` (or ``KENDALI_<NAME>`` for top-level) variables."""
        return _from_mapping(_env_mapping(env), base=self)

    def to_env(self) -> dict[str, str]:
        """These settings as ``KENDALI_*`` variables, to hand to a child process.

        >>> Settings().to_env()["KENDALI_TOPICS_TRAFFIC"]
        'atcs.readings'
        """
        env = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if dataclasses.is_dataclass(value):
                for g in dataclasses.fields(value):
                    env[f"KENDALI_{f.name}_{g.name}".upper()] = _env_text(getattr(value, g.name))
            else:
                env[f"KENDALI_{f.name}".upper()] = _env_text(value)
        return env

    def input_topics(self) -> tuple[str, ...]:
        t = self.topics
        return (t.traffic, t.hydromet, t.complaints, t.warnings, t.actions)

    def all_topics(self) -> tuple[str, ...]:
        return (*self.input_topics(), self.topics.alerts, self.topics.deadletter)


def _env_text(value: Any) -> str:
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _coerce(value: Any, like: Any, where: str) -> Any:
    if isinstance(like, bool):
        if isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise SettingsError(f"{where}: expected true/false, got {value!r}")
        return bool(value)
    if isinstance(like, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{where}: expected an integer, got {value!r}") from None
    if isinstance(like, tuple):
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return tuple(value)
    if isinstance(like, dict):
        if isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise SettingsError(f"{where}: expected a JSON object, got {value!r}") from None
        if not isinstance(value, dict):
            raise SettingsError(f"{where}: expected a table, got {value!r}")
        return dict(value)
    return str(value)


def _from_mapping(data: dict, base: Any) -> Any:
    known = {f.name: f for f in dataclasses.fields(base)}
    changes = {}
    for name, value in data.items():
        if name not in known:
            raise SettingsError(
                f"unknown setting {name!r} in [{type(base).__name__}]; known: {', '.join(known)}"
            )
        current = getattr(base, name)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise SettingsError(f"[{name}] must be a table")
            changes[name] = _from_mapping(value, current)
        else:
            changes[name] = _coerce(value, current, name)
    return dataclasses.replace(base, **changes)


def _env_mapping(env: dict[str, str]) -> dict:
    sections = {f.name for f in dataclasses.fields(Settings) if f.name.isidentifier()}
    nested = {
        f.name for f in dataclasses.fields(Settings) if dataclasses.is_dataclass(f.default_factory)
    }
    out: dict = {}
    for key, value in env.items():
        if not key.startswith("KENDALI_") or key == "KENDALI_SETTINGS":
            continue
        rest = key[len("KENDALI_") :].lower()
        section, _, name = rest.partition("_")
        if section in nested and name:
            out.setdefault(section, {})[name] = value
        elif rest in sections and rest not in nested:
            out[rest] = value
    return out


def load_settings(path: str | os.PathLike | None = None, env: dict | None = None) -> Settings:
    """Settings from a TOML file (optional) plus environment overrides.

    Relative paths in the file (city, data_dir) are resolved against the file's folder.
    """
    env = dict(os.environ) if env is None else env
    path = path or env.get("KENDALI_SETTINGS")
    settings = Settings()
    if path is None and Path("kendali.toml").exists():
        path = "kendali.toml"
    if path is not None:
        file = Path(path)
        try:
            data = tomllib.loads(file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read settings {file}: {exc}") from None
        for name in ("city", "data_dir"):
            if name in data:
                data[name] = str((file.parent / data[name]).resolve())
        settings = _from_mapping(data, settings)
    return settings.with_overrides(env)
