"""``kendali demo`` and ``kendali simulate``: the demo city, end to end, on one machine.

The demo starts the embedded broker and Redis, the dataflow and the API as supervised children,
then runs the city simulator in this process: a backfill of past days (so the detectors know
what normal looks like) and a live part at a speed-up until the simulation reaches the present.
Ctrl-C stops the simulator, then every child, then the servers.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

from kendali.city import load_city
from kendali.processes import Child, api_command, flow_command, init_recovery, server_env
from kendali.settings import Settings
from kendali.stack import EmbeddedStack
from kendali.store import Keys
from kendali.tokens import issue_demo_tokens
from sources.publish import KafkaPublisher
from sources.simulator import CitySimulator, load_scenario, run

__all__ = ["run_demo", "simulate"]


def _say(text: str) -> None:
    print(f"[{datetime.now().astimezone():%H:%M:%S}] {text}", flush=True)


def live_plan(
    now: datetime, tz, live_hours: float | None, speedup: float
) -> tuple[datetime, float]:
    """Where the live part starts and how fast it plays, so the scenario is worth watching.

    By default the live part covers the last 90 minutes. If that puts the scenario's first
    minutes at night (before 06:00 or after 21:00 local), a crash would hit an empty road and
    change no reading, so the live part starts at the last 07:00 instead and plays fast
    enough to reach the present within three minutes (the wall shows stale feeds until then).

    >>> from zoneinfo import ZoneInfo
    >>> wita = ZoneInfo("Asia/Makassar")
    >>> start, speed = live_plan(datetime(2026, 11, 27, 4, 0, tzinfo=UTC), wita, None, 60)
    >>> start.astimezone(wita).strftime("%H:%M"), speed
    ('10:30', 60)
    >>> start, speed = live_plan(datetime(2026, 11, 27, 21, 50, tzinfo=UTC), wita, None, 60)
    >>> start.astimezone(wita).isoformat(), round(speed)
    ('2026-11-27T07:00:00+08:00', 457)
    """
    if live_hours is not None:
        return now - timedelta(hours=live_hours), speedup
    start = now - timedelta(minutes=90)
    if 6 <= (start + timedelta(minutes=15)).astimezone(tz).hour < 21:
        return start, speedup
    local = start.astimezone(tz)
    morning = local.replace(hour=7, minute=0, second=0, microsecond=0)
    if morning > local:
        morning -= timedelta(days=1)
    return morning, max(speedup, (now - morning).total_seconds() / 180)


def _simulator(settings: Settings, args) -> tuple[CitySimulator, float]:
    city = load_city(settings.city)
    scenario_path = args.scenario or Path(settings.city) / "scenario.toml"
    scenario = load_scenario(scenario_path) if Path(scenario_path).exists() else None
    start, speedup = live_plan(datetime.now(UTC), city.tz, args.live_hours, args.speedup)
    backfill = timedelta(days=args.backfill_days)
    return CitySimulator(city, scenario, seed=args.seed, start=start, backfill=backfill), speedup


def _run_simulator(settings: Settings, args, stop: threading.Event) -> CitySimulator:
    sim, speedup = _simulator(settings, args)
    publisher = KafkaPublisher(settings)
    try:
        run(sim, publisher, speedup=speedup, stop=stop, progress=_say)
    finally:
        publisher.flush()
        if args.truth:
            sim.write_truth(args.truth)
    return sim


def simulate(settings: Settings, args) -> int:
    """Publish the demo city to the configured broker until done, Ctrl-C or ``--duration``."""
    stop = threading.Event()
    if args.duration:
        threading.Timer(args.duration, stop.set).start()
    try:
        _run_simulator(settings, args, stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


def _report(client: redis.Redis, keys: Keys) -> str:
    try:
        total = client.zcard(keys.incidents)
        newest = client.zrevrange(keys.incidents, 0, 0)
    except redis.RedisError:
        return "incidents: (redis not answering)"
    text = f"incidents in Redis: {total}"
    if newest:
        raw = client.hget(keys.incident(newest[0].decode()), "json")
        if raw:
            import orjson

            inc = orjson.loads(raw)
            text += f"; latest: [{inc['severity']}] {inc['explanation'][:110]}"
    return text


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def run_demo(settings: Settings, args) -> int:
    """Start everything, print the URL and progress, stop cleanly on Ctrl-C."""
    port = args.port or settings.api.port
    settings = dataclasses.replace(settings, api=dataclasses.replace(settings.api, port=port))
    workdir = Path(settings.embedded.workdir)
    stack = EmbeddedStack(settings)
    children: list[Child] = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _say("starting the embedded broker and Redis on loopback ...")
        stack.start()
        settings = settings.with_overrides(
            {"KENDALI_KAFKA_BOOTSTRAP": stack.bootstrap, "KENDALI_REDIS_URL": stack.redis_url}
        )
        env = server_env(settings)
        init_recovery(settings, fresh=True)  # the embedded broker starts empty, so must the flow
        flow_log, api_log = workdir / "dataflow.log", workdir / "api.log"
        for log in (flow_log, api_log):
            log.unlink(missing_ok=True)
        children.append(Child("dataflow", flow_command(settings), env, flow_log).start())
        children.append(Child("api", api_command(settings, port), env, api_log).start())
        url = f"http://{settings.api.host}:{port}"
        tokens = issue_demo_tokens(settings)
        _say(f"Kendali demo: wall  {url}/wall?access_token={tokens['wall']}")
        _say(f"              API   {url}/api/incidents   docs {url}/docs")
        _say(f"              supervisor token (Authorization: Bearer ...): {tokens['supervisor']}")
        _say(f"logs in {workdir}/ ; Ctrl-C stops everything")
        sim_thread = threading.Thread(
            target=_run_simulator, args=(settings, args, stop), name="simulator", daemon=True
        )
        sim_thread.start()
        client = redis.Redis.from_url(settings.redis.url, socket_timeout=2)
        keys = Keys(settings.redis.prefix)
        started = time.monotonic()
        while not stop.is_set():
            stop.wait(5.0)
            for child in children:
                if not child.alive():
                    raise RuntimeError(f"{child.name} stopped unexpectedly:\n{child.tail()}")
            _say(_report(client, keys))
            if args.duration and time.monotonic() - started > args.duration:
                break
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        print(f"kendali demo: {exc}", file=sys.stderr)
        return 1
    finally:
        stop.set()
        _say("stopping ...")
        for child in reversed(children):
            child.stop()
        stack.stop()
        _say("stopped; no process left behind")
    return 0
