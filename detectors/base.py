"""The contract between detection logic and the dataflow.

A detector bank watches many things of one kind (all detectors of a shard, all gauges, all
reports of a category group). The dataflow hands it every batch of records routed to it, in
arrival order, and a clock tick now and then; it answers with :class:`~kendali.records.Signal`
objects. Banks are pure Python (no Bytewax, Kafka or Redis), deterministic for the same input,
and picklable: the dataflow snapshots them with ``pickle.dumps`` at every epoch, so keep their
state in numpy arrays or plain containers rather than in thousands of small objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from kendali.records import Signal

__all__ = ["DetectorBank"]

R = TypeVar("R", contravariant=True)


class DetectorBank(Protocol[R]):
    """What the dataflow calls; ``tick`` lets a bank notice silence (a detector gone quiet)."""

    def process(self, records: Sequence[R]) -> list[Signal]:
        """Learn from and score a batch of records (event time order within one source)."""
        ...

    def tick(self, now: datetime) -> list[Signal]:
        """Called with the current event-time watermark; returns signals due to time passing."""
        ...
