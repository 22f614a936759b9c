"""Process-wide tuning for a line-rate dataflow process.

Python's cyclic garbage collector runs its youngest generation every 700 container allocations
by default and, now and then, a full collection over every tracked object. The ATCS path
allocates a dict per message (``orjson.loads``) and librdkafka a message object per record,
almost all freed at once by reference counting, so at line rate the collector mostly scans
objects that are about to die, or the long-lived heap of the process. Measured on the
throughput benchmark: Kendali's flow 241k -> 335k readings/s, the common Bytewax pattern
103k -> 167k, with a threshold of 100,000 and the start-up heap frozen.

>>> import gc
>>> before = gc.get_threshold()
>>> tune_gc(0) == before  # 0 leaves Python's default alone
True
"""

from __future__ import annotations

import gc

__all__ = ["tune_gc"]


def tune_gc(threshold: int) -> tuple[int, int, int]:
    """Run the youngest GC generation every ``threshold`` allocations (0: leave as is) and move
    everything alive now (imports, the city, the built flow) out of the collector's sight.

    Returns the thresholds in force. Reference cycles are still collected, only less often.
    """
    if threshold > 0:
        gc.freeze()
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(threshold, older, oldest)
    return gc.get_threshold()
