"""The flow process tunes Python's cyclic GC as the settings say (checked in a child process,
so that this test session keeps its own collector settings)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc
from bytewax.testing import TestingSink, TestingSource
from flows.city import FlowSinks, build_flow
from kendali.settings import Settings
settings = Settings().with_overrides({"KENDALI_FLOW_GC_THRESHOLD": "%s"})
before = gc.get_threshold()
build_flow(settings, source=TestingSource([]), sinks=FlowSinks(*(TestingSink([]),) * 4))
print(before[0], gc.get_threshold()[0], gc.get_freeze_count() > 0)
"""


def _child(threshold: int) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT % threshold], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_building_the_flow_raises_the_threshold_and_freezes_the_start_up_heap():
    assert _child(100_000) == ["700", "100000", "True"]


def test_zero_leaves_pythons_collector_alone():
    assert _child(0) == ["700", "700", "False"]
