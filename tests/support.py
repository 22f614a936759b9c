"""Helpers shared by tests: free ports, waiting with a deadline, the repository root."""

from __future__ import annotations

import socket
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, *children):
    """Poll ``check`` until it returns something truthy; fail naming ``what`` on timeout.

    Any ``children`` (``kendali.processes.Child``) must stay alive meanwhile: a crash fails at
    once, with the child's log.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        for child in children:
            assert child.alive(), f"{child.name} died:\n{child.tail()}"
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
