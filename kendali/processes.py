"""Child processes that ``kendali demo`` and the tests supervise: the dataflow and the API.

Each child runs in its own process group so that stopping it stops everything it started
(Bytewax worker threads, uvicorn) and Ctrl-C never leaves an orphan holding a port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson

from kendali.settings import Settings

__all__ = [
    "Child",
    "RecoveryMismatch",
    "api_command",
    "flow_command",
    "init_recovery",
    "server_env",
]


def server_env(settings: Settings) -> dict:
    """Environment for a child that must see exactly these settings (as ``KENDALI_*``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KENDALI_")}
    env.update(settings.to_env())
    env.setdefault("PYTHONUNBUFFERED", "1")
    for name in ("BYTEWAX_DATAFLOW_API_ENABLED", "BYTEWAX_DATAFLOW_API_PORT"):
        env.pop(name, None)
    if settings.flow.metrics_port:  # the dataflow's /metrics (the API ignores these)
        env["BYTEWAX_DATAFLOW_API_ENABLED"] = "1"
        env["BYTEWAX_DATAFLOW_API_PORT"] = str(settings.flow.metrics_port)
    return env


#: What a recovery store's state is keyed by, stamped next to it: detector state lives under
#: shard keys, so a store written with another shard count holds banks of the wrong detectors.
LAYOUT_FILE = "kendali-layout.json"
#: Stores written before the stamp existed used the then default.
_UNSTAMPED = {"traffic_shards": 16}


class RecoveryMismatch(ValueError):
    """The recovery store was written under a state layout the settings no longer match."""


def init_recovery(settings: Settings, *, fresh: bool = False) -> Path:
    """Create the Bytewax recovery store if missing (``fresh`` wipes it first), and check that
    an existing one was written with the same traffic shard count as the settings say."""
    path = Path(settings.flow.recovery_dir)
    if fresh and path.exists():
        shutil.rmtree(path)
    layout = {"traffic_shards": settings.flow.traffic_shards}
    stamp = path / LAYOUT_FILE
    if any(path.glob("part-*.sqlite3")):
        written = orjson.loads(stamp.read_bytes()) if stamp.exists() else _UNSTAMPED
        if written != layout:
            raise RecoveryMismatch(
                f"the recovery store {path} holds detector state for traffic_shards="
                f"{written.get('traffic_shards')}, the settings say "
                f"{settings.flow.traffic_shards}: restart with --fresh (the flow re-reads the "
                f"topics and relearns), or set flow.traffic_shards back"
            )
        return path
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bytewax.recovery",
            str(path),
            str(settings.flow.recovery_partitions),
        ],
        check=True,
        capture_output=True,
    )
    stamp.write_bytes(orjson.dumps(layout))
    return path


def flow_command(settings: Settings, *, recovery: bool = True) -> list[str]:
    """``python -m bytewax.run`` for the city flow with the configured workers and recovery."""
    argv = [
        sys.executable,
        "-m",
        "bytewax.run",
        "flows.city:build_flow()",
        "-w",
        str(settings.flow.workers),
    ]
    if recovery:
        flow = settings.flow
        argv += [
            "-r",
            flow.recovery_dir,
            "-s",
            str(flow.snapshot_interval_s),
            "-b",
            str(flow.backup_interval_s),
        ]
    return argv


def api_command(settings: Settings, port: int | None = None) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "api.main:create_app",
        "--host",
        settings.api.host,
        "--port",
        str(port or settings.api.port),
        "--log-level",
        "warning",
        "--timeout-graceful-shutdown",
        "3",
    ]


@dataclass
class Child:
    """A supervised child process with its output in a log file."""

    name: str
    argv: list[str]
    env: dict
    log: Path
    cwd: Path | None = None
    proc: subprocess.Popen | None = None

    def start(self) -> Child:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.cwd,
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 8.0) -> None:
        """SIGINT (a clean stop for uvicorn), then SIGTERM, then SIGKILL."""
        if not self.alive():
            return
        for sig, wait in ((signal.SIGINT, timeout / 2), (signal.SIGTERM, timeout / 2)):
            self.signal(sig)
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
        self.signal(signal.SIGKILL)
        self.proc.wait()

    def tail(self, chars: int = 1500) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""
