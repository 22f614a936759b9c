"""Process-wide tuning for a line-rate dataflow process: the garbage collector and the GIL.

Python's cyclic garbage collector runs its youngest generation every 700 container allocations
by default and, now and then, a full collection over every tracked object. The ATCS path
allocates a dict per message (``orjson.loads``) and librdkafka a message object per record,
almost all freed at once by reference counting, so at line rate the collector mostly scans
objects that are about to die, or the long-lived heap of the process. One side-by-side probe
on the throughput benchmark's topic: Kendali's flow 241k -> 335k readings/s, the common Bytewax
pattern 103k -> 167k, with thresholds (100,000, 20, 100) and the start-up heap frozen; with
(100,000, 10, 10) Kendali's flow gained about half as much.

In a Bytewax cluster (``-i/-a``) the process's main thread asks for the GIL every millisecond
to check for signals while the worker thread runs the dataflow. With Python's switch interval
of 5 ms the worker is made to hand the GIL over about 200 times a second; a py-spy
``--native --idle`` profile of a 2-process benchmark run had the worker waiting for it in
8.1 % of its samples, 0.8 % with an interval of 50 ms (``flow.gil_switch_ms``,
:func:`tune_gil`). The worker still lets go of the GIL whenever it waits on Kafka or Redis, so
signals are handled within a few milliseconds as before.

>>> import gc
>>> before = gc.get_threshold()
>>> tune_gc(0) == before  # 0 leaves Python's default alone
True
"""

from __future__ import annotations

import gc
import sys

__all__ = ["tune_gc", "tune_gil"]

#: Collections of the younger generation between two of the next (Python's default: 10, 10).
#: After ``gc.freeze()`` a full collection over what is left is cheap to trigger, so it is
#: spaced out as well: (20, 100) measured clearly better than (10, 10) on the benchmark.
_OLDER = (20, 100)


def tune_gc(threshold: int) -> tuple[int, int, int]:
    """Run the youngest GC generation every ``threshold`` allocations (0: leave as is) and move
    everything alive now (imports, the city, the built flow) out of the collector's sight.

    Returns the thresholds in force. Reference cycles are still collected, only less often.
    """
    if threshold > 0:
        gc.freeze()
        gc.set_threshold(threshold, *_OLDER)
    return gc.get_threshold()


def tune_gil(switch_ms: int) -> float:
    """Let a thread hold the GIL for ``switch_ms`` while another waits (0: leave as is), so that
    threads that only wake to poll interrupt the worker less (see the module doc); returns the
    interval in force, in seconds."""
    if switch_ms > 0:
        sys.setswitchinterval(switch_ms / 1000)
    return sys.getswitchinterval()
