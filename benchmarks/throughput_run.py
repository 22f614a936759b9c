"""Running the benchmark's dataflows as Bytewax processes and collecting what they report.

Each run writes a JSON config, starts ``processes`` ``python -m bytewax.run`` children (a
``-i/-a`` cluster when more than one, recovery on for path B as in production) and combines the
per-process statistics written by :mod:`benchmarks.throughput_paths`: the rate is what the
processes decoded (B) or scored (C, D) divided by the time from the first message read by any
process to the end of the last one, so Python and Kafka start-up are not counted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import orjson
import redis

from kendali.processes import init_recovery, server_env
from kendali.settings import Settings
from kendali.store import Keys

__all__ = [
    "cpu_busy",
    "cpu_sample",
    "differences",
    "digest",
    "flow_cores",
    "free_ports",
    "incident_log",
    "machine",
    "run_flow",
    "run_flows_at_once",
    "start_flow",
    "stop",
    "write_config",
]

ROOT = Path(__file__).resolve().parent.parent


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports nobody listens on right now."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def write_config(name: str, path: str, settings: Settings, workdir: Path, **extra) -> Path:
    """The JSON config :func:`benchmarks.throughput_paths.flow` reads; ``extra``: detectors,
    seed, seconds (stop that long after the first message), tail (keep reading at the end)."""
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = {"path": path, "env": settings.to_env(), "stats": str(workdir / name), **extra}
    cfg_file = workdir / f"{name}.json"
    cfg_file.write_text(json.dumps(cfg))
    return cfg_file


def run_flow(
    name: str,
    path: str,
    settings: Settings,
    workdir: Path,
    *,
    processes: int = 1,
    timeout: float = 900,
    grace: float = 15,
    **extra,
) -> dict:
    """Run path ``path`` to the topic end (or for ``seconds``) and return its statistics.

    Once every process has written its statistics, it gets ``grace`` seconds to end before it
    is killed (a flow snapshotting thousands of river models can take minutes to stop).
    ``replay=True`` (path B) reads each partition up front and replays it from memory.
    """
    run = _Run(name, path, settings, workdir, processes, extra)
    return _watch([run], timeout, grace)[0]


def run_flows_at_once(
    runs: list[tuple[str, Settings]], path: str, workdir: Path, *, timeout=900, grace=15, **extra
) -> list[dict]:
    """Several independent 1-process runs of ``path`` started together, one per (name,
    settings): what the machine does to one process's CPU per reading when another busy
    process shares it (see :func:`run_flow`). With ``replay``, they share one barrier, named
    after the first run, so that their clocks start together."""
    if extra.get("replay"):
        extra["barrier"] = barrier(workdir, runs[0][0], len(runs))
    started = [_Run(name, path, settings, workdir, 1, extra) for name, settings in runs]
    return _watch(started, timeout, grace)


def barrier(workdir: Path, name: str, size: int) -> list:
    """A replay barrier for ``size`` processes (``[path prefix, size]``, see
    ``benchmarks.throughput_paths._ReplayPart``), its ready files of an earlier run removed."""
    path = workdir / f"{name}-barrier"
    for file in workdir.glob(f"{path.name}-*"):
        file.unlink()
    return [str(path), size]


class _Run:
    """One started run: its children and the statistics files they will write."""

    def __init__(self, name, path, settings, workdir, processes, extra):
        if extra.get("replay") and "barrier" not in extra:
            extra = {**extra, "barrier": barrier(workdir, name, processes)}
        cfg_file = write_config(name, path, settings, workdir, **extra)
        self.name, self.workdir = name, workdir
        self.files = [workdir / f"{name}-{i}.json" for i in range(processes)]
        for file in self.files:
            file.unlink(missing_ok=True)
        self.children = start_flow(path, cfg_file, processes, settings)
        self.reported: float | None = None

    def result(self, cpu: list[tuple], offset: int) -> dict:
        failed = [c.returncode for c in self.children if c.returncode and c.returncode > 0]
        if failed or not all(f.exists() for f in self.files):
            log = (self.workdir / f"{self.name}-0.log").read_text(errors="replace")[-1500:]
            raise RuntimeError(
                f"{self.name}: bytewax exited with {failed or 'no statistics'}: {log}"
            )
        parts = [json.loads(f.read_text()) for f in self.files]
        result = _combine(parts)
        firsts = [p["first"] for p in parts if p["first"]]
        if firsts:
            start, end = min(firsts), max(p["end"] for p in parts)
            result["machine_cpu_busy"] = cpu_busy(cpu, start, end)
            own = [(*s[:3], s[3][offset : offset + len(self.children)]) for s in cpu]
            cores = flow_cores(own, start, end)
            if cores is not None:
                result["flow_cpu_cores"] = cores
                result["flow_cpu_us_per_reading"] = (
                    cores / result["rps"] * 1e6 if result["rps"] else None
                )
        return result


def _watch(runs: list[_Run], timeout: float, grace: float) -> list[dict]:
    """Sample the CPU until every run has reported (plus ``grace``) or ended; their results."""
    children = [c for run in runs for c in run.children]
    deadline, cpu = time.time() + timeout, []
    pids = [c.pid for c in children]
    try:
        while any(c.poll() is None for c in children) and time.time() < deadline:
            cpu.append(cpu_sample(pids))
            now = time.time()
            for run in runs:
                if run.reported is None and all(f.exists() for f in run.files):
                    run.reported = now
            if all(r.reported is not None and now > r.reported + grace for r in runs):
                break
            time.sleep(0.1)
    finally:
        stop(children)
    offsets = [sum(len(r.children) for r in runs[:i]) for i in range(len(runs))]
    return [run.result(cpu, offset) for run, offset in zip(runs, offsets, strict=True)]


def cpu_sample(pids: list[int] = ()) -> tuple[float, int, int, tuple[int, ...]]:
    """(wall time, busy and total jiffies of the whole machine from ``/proc/stat``, CPU jiffies
    used so far by each process of ``pids``, all its threads, from ``/proc/<pid>/stat``)."""
    now = time.time()
    used = tuple(map(_process_jiffies, pids))
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return now, 0, 0, used
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return now, sum(fields) - idle, sum(fields), used


def _process_jiffies(pid: int) -> int:
    """utime + stime of one process (0 once it has been reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    rest = stat.rsplit(")", 1)[1].split()  # fields from the 3rd (state) on
    return int(rest[11]) + int(rest[12])


def _window(samples: list[tuple], start: float, end: float) -> list[tuple]:
    return [s for s in samples if start - 0.15 <= s[0] <= end + 0.15]


def cpu_busy(samples: list[tuple], start: float, end: float) -> float | None:
    """Fraction of all cores busy (any process: flow, broker, Redis) between two times.

    >>> cpu_busy([(0.0, 0, 0, ()), (1.0, 100, 200, ()), (2.0, 250, 400, ())], 0.9, 2.0)
    0.75
    """
    inside = _window(samples, start, end)
    if len(inside) < 2 or inside[-1][2] == inside[0][2]:
        return None
    return (inside[-1][1] - inside[0][1]) / (inside[-1][2] - inside[0][2])


def flow_cores(samples: list[tuple], start: float, end: float) -> float | None:
    """Cores the flow's processes used on average between two times (1.0 = one core busy).

    >>> hz = os.sysconf("SC_CLK_TCK")
    >>> flow_cores([(0.0, 0, 0, (0, 0)), (1.0, 0, 0, (hz, 0)), (2.0, 0, 0, (2 * hz, 0))], 0, 2)
    1.0
    """
    inside = _window(samples, start, end)
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    first = inside[0][3]
    last = [max(s[3][i] for s in inside) for i in range(len(first))]  # a reaped process reads 0
    used = (sum(last) - sum(first)) / os.sysconf("SC_CLK_TCK")
    return used / (inside[-1][0] - inside[0][0])


def stop(children: list[subprocess.Popen]) -> None:
    """Kill what is still running (a tailing flow never ends by itself)."""
    for child in children:
        if child.poll() is None:
            child.kill()
            child.wait()


def start_flow(
    path: str, cfg_file: Path, processes: int, settings: Settings
) -> list[subprocess.Popen]:
    """Start the processes of one run (``cfg_file`` written by :func:`run_flow`)."""
    addresses = ";".join(f"127.0.0.1:{p}" for p in free_ports(processes))
    recovery = cfg_file.with_name(f"{cfg_file.stem}-recovery")
    if path == "B":
        flow = dataclasses.replace(settings.flow, recovery_dir=str(recovery))
        init_recovery(dataclasses.replace(settings, flow=flow), fresh=True)
    out = []
    for proc in range(processes):
        call = f"benchmarks.throughput_paths:flow({str(cfg_file)!r}, {proc})"
        argv = [sys.executable, "-m", "bytewax.run", call]
        if processes > 1:
            argv += ["-i", str(proc), "-a", addresses]
        if path == "B":
            flow = settings.flow
            argv += ["-r", str(recovery), "-s", str(flow.snapshot_interval_s)]
            argv += ["-b", str(flow.backup_interval_s)]
        out.append(_spawn(argv, cfg_file.with_name(f"{cfg_file.stem}-{proc}.log"), settings))
    return out


def _spawn(argv: list[str], log_file: Path, settings: Settings) -> subprocess.Popen:
    log = log_file.open("wb")
    env = server_env(settings)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=log_file.parent
    )


def _combine(parts: list[dict]) -> dict:
    firsts = [p["first"] for p in parts if p["first"]]
    seconds = max(p["end"] for p in parts) - min(firsts) if firsts else 0.0
    done = sum(p["decoded"] or p["out"] for p in parts)
    return {
        "read": sum(p["read"] for p in parts),
        "processed": done,
        "dead": sum(p["dead"] for p in parts),
        "seconds": round(seconds, 3),
        "rps": done / seconds if seconds else 0.0,
        "peak_rss": max(p["peak_rss"] for p in parts),
    }


def incident_log(url: str, prefix: str) -> list[dict]:
    """Every incident version in the alert stream, in order, with the stream entry time (ms)."""
    client = redis.Redis.from_url(url)
    out = []
    for entry_id, fields in client.xrange(Keys(prefix).alerts):
        incident = orjson.loads(fields[b"incident"])
        incident["_entry_ms"] = int(entry_id.split(b"-")[0])
        out.append(incident)
    client.close()
    return out


def digest(log: list[dict]) -> str:
    """Order-free fingerprint of incident versions (the entry times left out).

    >>> digest([{"id": "a", "version": 1, "_entry_ms": 5}]) == digest([{"id": "a", "version": 1}])
    True
    """
    rows = sorted(
        orjson.dumps({k: v for k, v in i.items() if k != "_entry_ms"}, option=orjson.OPT_SORT_KEYS)
        for i in log
    )
    return hashlib.sha256(b"\n".join(rows)).hexdigest()


def _cpu_model() -> str:
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor()


def _librdkafka() -> str:
    import confluent_kafka

    return confluent_kafka.libversion()[0]


def differences(one: list[dict], two: list[dict], limit: int = 10) -> list[str]:
    """Incident versions that differ between two logs: ``id vN: field, field`` (or missing).

    >>> differences([{"id": "a", "version": 1, "status": "new"}],
    ...             [{"id": "a", "version": 1, "status": "resolved"}, {"id": "a", "version": 2}])
    ['a v1: status', 'a v2: only in the second']
    """
    first = {(i["id"], i["version"]): i for i in one}
    second = {(i["id"], i["version"]): i for i in two}
    out = []
    for key in sorted(first.keys() | second.keys()):
        a, b = first.get(key), second.get(key)
        if a is None or b is None:
            out.append(f"{key[0]} v{key[1]}: only in the {'second' if a is None else 'first'}")
            continue
        fields = sorted(f for f in a.keys() | b.keys() if f != "_entry_ms" and a.get(f) != b.get(f))
        if fields:
            out.append(f"{key[0]} v{key[1]}: {', '.join(fields)}")
    return out[:limit]


def machine() -> dict:
    """Hardware and software the numbers were measured on."""
    return {
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "bytewax": version("bytewax"),
        "confluent_kafka": version("confluent-kafka"),
        "librdkafka": _librdkafka(),
        "river": version("river"),
        "numpy": version("numpy"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
