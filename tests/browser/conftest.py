"""Browser test setup: installs what it needs, then drives Debian's Chromium with playwright-core.

On a fresh machine the session installs Debian's ``chromium`` (and Node.js, if missing) with
apt-get when running as root, and the pinned ``playwright-core`` from ``package-lock.json`` into
``.kendali/browser-node`` (gitignored) with ``npm ci``. No browser is downloaded: playwright-core
only drives ``/usr/bin/chromium``. Tests are skipped, with the reason, only when that is impossible.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from kendali.processes import Child, api_command, server_env
from kendali.records import Incident
from sinks.redis_incidents import RedisIncidentSink
from sinks.redis_series import RedisSeriesSink, SensorPoint
from tests.support import ROOT, free_port, wait_until

HERE = Path(__file__).resolve().parent
CACHE = ROOT / ".kendali" / "browser-node"
NODE_MAJOR = 20  # what the pinned playwright-core asks for (package-lock.json "engines")


def _run(argv: list[str], what: str, **kwargs) -> None:
    env = {
        **os.environ,
        "DEBIAN_FRONTEND": "noninteractive",
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
    }
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, **kwargs)
    if done.returncode:
        pytest.skip(f"cannot install {what}: {' '.join(argv)} failed: {done.stderr[-800:]}")


def _apt_install(binary: str, package: str) -> str:
    found = shutil.which(binary)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"{binary} is missing and we are not root with apt-get to install {package}")
    _run(["apt-get", "update", "-q"], "the Debian package lists")
    _run(["apt-get", "install", "-y", "-q", package], package)
    return shutil.which(binary) or pytest.skip(f"{package} installed but {binary} not found")


def _check_node(node: str) -> None:
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    major = int(version.lstrip("v").split(".")[0] or 0) if version else 0
    if major < NODE_MAJOR:
        pytest.skip(f"playwright-core needs Node.js >= {NODE_MAJOR}; {node} is {version!r}")


def _playwright_modules(npm: str) -> Path:
    """``npm ci`` of tests/browser/package-lock.json into the cache, unless already there."""
    lock = HERE / "package-lock.json"
    stamp = CACHE / "installed-lock.json"
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # two test sessions at once must not both install
        if not (stamp.exists() and stamp.read_bytes() == lock.read_bytes()):
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(HERE / name, CACHE / name)
            _run([npm, "ci", "--no-audit", "--no-fund"], "playwright-core (npm ci)", cwd=CACHE)
            shutil.copyfile(lock, stamp)
    return CACHE / "node_modules"


@pytest.fixture(scope="session")
def browser_tools() -> tuple[str, str, Path]:
    """(chromium, node, node_modules with playwright-core), installing them if needed."""
    chromium = _apt_install("chromium", "chromium")
    node = _apt_install("node", "nodejs")
    _check_node(node)
    npm = _apt_install("npm", "npm")
    return chromium, node, _playwright_modules(npm)


class BrowserError(AssertionError):
    """A driver command failed in the browser."""


@dataclass
class Browser:
    """One headless Chromium page behind ``driver.cjs``; every method is one driver command."""

    proc: subprocess.Popen

    def call(self, cmd: str, **args):
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise BrowserError(f"the browser driver exited: {self.proc.stderr.read()[-1500:]}")
        reply = json.loads(line)
        if not reply["ok"]:
            raise BrowserError(reply["error"])
        return reply.get("result")

    def wait(self, expr: str, timeout: float, what: str):
        try:
            return self.call("wait", expr=expr, timeout=int(timeout * 1000))
        except BrowserError as exc:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}: {exc}") from None

    def evaluate(self, expr: str):
        return self.call("evaluate", expr=expr)


@pytest.fixture
def browser(browser_tools):
    """A fresh Chromium at 1920×1080, closed after the test."""
    chromium, node, modules = browser_tools
    proc = subprocess.Popen(
        [node, str(HERE / "driver.cjs"), chromium],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KENDALI_NODE_MODULES": str(modules)},
    )
    page = Browser(proc)
    try:
        page.call("launch", width=1920, height=1080)
        yield page
    finally:
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def artefacts() -> Path:
    """Where screenshots go: ``$KENDALI_ARTEFACTS`` or ``.kendali/artefacts``."""
    path = Path(os.environ.get("KENDALI_ARTEFACTS") or ROOT / ".kendali" / "artefacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Api:
    """The API as a child process on a fixed port, so that it can be restarted mid-test."""

    settings: object
    log: Path
    port: int = field(default_factory=free_port)
    child: Child | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self) -> Api:
        argv = api_command(self.settings, self.port)
        self.child = Child("api", argv, server_env(self.settings), self.log, cwd=ROOT).start()
        wait_until(self.ready, 30, "the API to be ready", self.child)
        return self

    def stop(self) -> None:
        if self.child:
            self.child.stop()


@pytest.fixture
def api(isolated_settings, tmp_path):
    """The API on a free port against the session's Redis, under the test's own prefix."""
    server = Api(isolated_settings, tmp_path / "api.log").start()
    yield server
    server.stop()


SCENES = [
    ("fire", "Extreme", "Balikpapan Kota", 116.835, -1.272, ["damkar", "police", "health"]),
    ("flood", "Severe", "Balikpapan Tengah", 116.869, -1.247, ["bpbd", "dishub", "satpolpp"]),
    ("congestion", "Moderate", "Balikpapan Selatan", 116.880, -1.262, ["dishub", "police"]),
    ("traffic_accident", "Severe", "Balikpapan Kota", 116.842, -1.2705, ["police", "dishub"]),
    ("fallen_tree", "Minor", "Balikpapan Utara", 116.860, -1.205, ["bpbd", "dishub", "pupr"]),
]
EVIDENCE = {
    "fire": ["report:R-101", "report:R-102"],
    "flood": ["gauge:AMPAL-MTH@{ts}", "gauge:AMPAL-HULU@{ts}"],
    "congestion": ["atcs:BPN-A02-EB@{ts}"],
    "traffic_accident": ["atcs:BPN-A01-EB@{ts}", "atcs:BPN-A02-EB@{ts}"],
}


def incident(
    n: int, version: int = 1, *, scene: int | None = None, status: str = "new"
) -> Incident:
    """Test incident ``INC-WALL-<n>`` (scene ``n`` mod 5), first seen ``3 n`` minutes ago."""
    category, severity, zone, lon, lat, agencies = SCENES[
        n % len(SCENES) if scene is None else scene
    ]
    now = datetime.now(UTC)
    ts = now.isoformat()
    return Incident(
        id=f"INC-WALL-{n:03d}",
        version=version,
        kind="incident",
        category=category,
        status=status,
        severity=severity,
        urgency="Immediate",
        certainty="Likely",
        lat=lat + 0.002 * (n // len(SCENES)),
        lon=lon,
        zone=zone,
        agencies=tuple(agencies),
        evidence=tuple(e.format(ts=ts) for e in EVIDENCE.get(category, [])),
        sources=("test",),
        first_seen=now - timedelta(minutes=3 * n),
        last_seen=now,
        score=0.9,
        explanation=f"{category.replace('_', ' ').title()} #{n} near {zone}",
    )


class Injector:
    """Writes incidents, sensor series and freshness through the real sinks' partitions."""

    def __init__(self, settings):
        url, prefix = settings.redis.url, settings.redis.prefix
        self.incidents = RedisIncidentSink(url, prefix).build("wall-test", 0, 1)
        self.series = RedisSeriesSink(url, prefix, min_gap_s=0.0).build("wall-test", 0, 1)

    def write(self, *items: Incident) -> None:
        self.incidents.write_batch(list(items))

    def sensors(self) -> None:
        """One hour of five-minute readings for the sensors named in the evidence."""
        now = time.time()
        for k in range(12, -1, -1):
            ts = now - 300 * k
            self.series.write_batch(
                [
                    SensorPoint(
                        "atcs",
                        f"atcs:BPN-A0{d}-EB",
                        ts,
                        {"occupancy": 12 + 4 * (12 - k) * d, "speed": 48 - 3 * (12 - k)},
                    )
                    for d in (1, 2)
                ]
                + [
                    SensorPoint(
                        "hydromet",
                        f"gauge:{g}",
                        ts - 3600 * 3,
                        {"level_cm": 120 + 9 * (12 - k), "rain_mm": 4.0},
                    )
                    for g in ("AMPAL-MTH", "AMPAL-HULU")
                ]
            )

    def close(self) -> None:
        self.incidents.close()
        self.series.close()


@pytest.fixture
def inject(isolated_settings):
    """Writes into the test's Redis prefix through the sinks' own partitions (their Lua upsert)."""
    injector = Injector(isolated_settings)
    yield injector
    injector.close()
