"""The API as a child process in tests, tokens, alerts written the sink's way, an SSE client.

Alerts are written with the incident sink's own Lua upsert (:data:`kendali.store.UPSERT_LUA`),
so the API sees exactly what the dataflow would write. :class:`SseClient` behaves like a
browser's ``EventSource``: on a dropped connection it reconnects with ``Last-Event-ID``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import orjson
import redis

from kendali.processes import Child, api_command, server_env
from kendali.settings import Settings
from kendali.store import UPSERT_LUA, Keys
from kendali.tokens import create_token
from tests.support import ROOT, free_port, wait_until


class Api:
    """One API process on loopback; ``restart`` keeps its port."""

    def __init__(self, settings: Settings, log: Path, port: int | None = None):
        self.settings = settings
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        argv = api_command(settings, self.port)
        self.child = Child("api", argv, server_env(settings), log, cwd=ROOT)

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout: float = 30) -> Api:
        self.child.start()
        wait_until(self.ready, timeout, "the API to be ready", self.child)
        return self

    def stop(self) -> None:
        self.child.stop()


def token(settings: Settings, role: str = "viewer", agency: str | None = None) -> str:
    client = redis.Redis.from_url(settings.redis.url)
    try:
        return create_token(client, Keys(settings.redis.prefix), role, agency)[0]
    finally:
        client.close()


class AlertWriter:
    """Writes incident versions into Redis exactly as the incident sink does."""

    def __init__(self, settings: Settings):
        self.client = redis.Redis.from_url(settings.redis.url, socket_timeout=10)
        self.keys = Keys(settings.redis.prefix)
        self.upsert = self.client.register_script(UPSERT_LUA)

    def write(self, incident_id: str, version: int, extra: dict | None = None) -> float:
        """Upsert one version (routed to damkar, JSON plus ``extra``); returns the write time."""
        body = orjson.dumps(
            {"id": incident_id, "version": version, "agencies": ["damkar"], **(extra or {})}
        )
        k = self.keys
        now = time.time()
        self.upsert(
            keys=[k.incident(incident_id), k.incidents, k.geo, k.alerts],
            args=[incident_id, version, body, now, 116.85, -1.25, 100_000],
        )
        return now

    def stream_ids(self) -> list[str]:
        return [raw.decode() for raw, _ in self.client.xrange(self.keys.alerts, "-", "+")]

    def close(self) -> None:
        self.client.close()


class SseClient(threading.Thread):
    """Reads ``/api/stream`` like ``EventSource``: reconnects with ``Last-Event-ID``."""

    def __init__(self, base: str, token: str):
        super().__init__(daemon=True)
        self.url = f"{base}/api/stream"
        self.token = token
        self.events: list[tuple[str, bytes]] = []
        self.connects = 0
        self.connected = threading.Event()
        self.stopping = threading.Event()

    def _headers(self) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.events:
            headers["Last-Event-ID"] = self.events[-1][0]
        return headers

    def _read(self) -> None:
        timeout = httpx.Timeout(5, read=20)  # longer than the 15 s heartbeat
        with httpx.stream("GET", self.url, headers=self._headers(), timeout=timeout) as resp:
            resp.raise_for_status()
            self.connects += 1
            self.connected.set()
            event_id = None
            for line in resp.iter_lines():
                if self.stopping.is_set():
                    return
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: ") and event_id:
                    self.events.append((event_id, line[6:].encode()))
                    event_id = None

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._read()
            except (httpx.HTTPError, OSError):
                time.sleep(0.2)
