"""Load: 500 wall clients on one API process each receive every alert of a 1,000-alert burst,
in order, with p99 delivery under a second (the burst: 1,000 alerts written within one second).

Clients are raw asyncio sockets in this process (parsing costs little next to the server's
work). Alerts are written with the incident sink's Lua upsert, each stamped with its write
time, from a thread, so the clients keep reading meanwhile. Everything is bounded: the test
gives up after ``DEADLINE_S``.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time

import pytest

from tests.reliability.apirun import AlertWriter, Api, token

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

CLIENTS = 500
ALERTS = 1_000
BURST_S = 1.0  # the burst: 1,000 alerts written within one second
DEADLINE_S = 60.0
SEQ = re.compile(rb'"seq":(\d+)')


class Client:
    """One SSE connection: the alert numbers it received and when."""

    def __init__(self):
        self.seqs: list[int] = []
        self.times: list[float] = []
        self.ready = asyncio.Event()

    async def run(self, port: int, bearer: str, done: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {bearer}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise AssertionError(head + await reader.read(300))
        self.ready.set()
        try:
            while len(self.seqs) < ALERTS and not done.is_set():
                chunk = await reader.read(1 << 16)
                if not chunk:
                    return
                now = time.time()
                found = [int(s) for s in SEQ.findall(chunk)]
                self.seqs += found
                self.times += [now] * len(found)
        finally:
            writer.close()


def _burst(writer: AlertWriter, sent: list[float]) -> None:
    gap = BURST_S / ALERTS
    start = time.monotonic()
    for i in range(ALERTS):
        delay = start + i * gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent.append(writer.write(f"LOAD-{i % 50}", i // 50 + 1, {"seq": i}))


async def _load(port: int, bearer: str, writer: AlertWriter) -> tuple[list[Client], list[float]]:
    clients = [Client() for _ in range(CLIENTS)]
    done = asyncio.Event()
    tasks = [asyncio.create_task(c.run(port, bearer, done)) for c in clients]
    await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 30)
    await asyncio.sleep(1.0)  # every subscriber registered with the broadcaster
    sent: list[float] = []
    thread = threading.Thread(target=_burst, args=(writer, sent), daemon=True)
    thread.start()
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), DEADLINE_S)
    except TimeoutError:
        pass
    finally:
        done.set()
        for task in tasks:
            task.cancel()
    thread.join(5)
    return clients, sent


def test_500_sse_clients_get_every_alert_in_order_fast(isolated_settings, tmp_path):
    api = Api(isolated_settings, tmp_path / "api.log").start()
    writer = AlertWriter(isolated_settings)
    try:
        clients, sent = asyncio.run(_load(api.port, token(isolated_settings), writer))
    finally:
        writer.close()
        api.stop()
    assert len(sent) == ALERTS
    complete = [c for c in clients if c.seqs == list(range(ALERTS))]
    assert len(complete) == CLIENTS, (
        f"{CLIENTS - len(complete)} clients missed alerts or got them out of order; "
        f"fewest received: {min(len(c.seqs) for c in clients)}"
    )
    delays = sorted(t - sent[s] for c in clients for s, t in zip(c.seqs, c.times, strict=True))
    p50, p99 = delays[len(delays) // 2], delays[int(len(delays) * 0.99)]
    print(f"SSE load: {CLIENTS} clients x {ALERTS} alerts, p50 {p50:.3f} s, p99 {p99:.3f} s")
    assert p99 < 1.0, f"p99 delivery {p99:.3f} s (p50 {p50:.3f} s)"
