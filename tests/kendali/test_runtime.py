"""The flow process tunes Python's cyclic GC and GIL switch interval as the settings say
(checked in a child process, so that this test session keeps its own)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc, sys
from bytewax.testing import TestingSink, TestingSource
from flows.city import FlowSinks, build_flow
from kendali.settings import Settings
settings = Settings().with_overrides(
    {"KENDALI_FLOW_GC_THRESHOLD": "%s", "KENDALI_FLOW_GIL_SWITCH_MS": "%s"}
)
before = gc.get_threshold()
build_flow(settings, source=TestingSource([]), sinks=FlowSinks(*(TestingSink([]),) * 4))
switch = round(sys.getswitchinterval(), 6)
print(before[0], gc.get_threshold()[0], gc.get_freeze_count() > 0, switch)
"""


def _child(threshold: int, switch_ms: int) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT % (threshold, switch_ms)],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def test_building_the_flow_raises_the_threshold_freezes_the_heap_and_spaces_gil_switches():
    assert _child(100_000, 50) == ["700", "100000", "True", "0.05"]


def test_zero_leaves_pythons_collector_and_gil_alone():
    assert _child(0, 0) == ["700", "700", "False", "0.005"]
