"""Gauge health: flat lines, impossible jumps and silence are maintenance tickets, not floods.

A real river always moves a little; a value that does not change for many hours is a stuck
sensor or, in prepared tables, a forward-filled gap. A jump faster than any river rises is a
glitch. A gauge that stops reporting is silent. Each of these is a *fault*; while a gauge is
flat-lined its values are not treated as readings.

>>> f = FaultTracker(FaultParams(flat_line_min=120))
>>> [f.observe(t * 3600, 55.0, 3600) for t in range(4)]
[None, None, 'flat_line', None]
>>> f.active
{'flat_line': 0}
>>> f.observe(4 * 3600, 70.0, 3600), f.active
('cleared:flat_line', {})
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FaultParams", "FaultTracker"]


@dataclass(frozen=True, slots=True)
class FaultParams:
    """Fault thresholds; times in minutes, levels in cm."""

    #: An unchanged level for this long is a flat line (forward-filled data, stuck float).
    flat_line_min: float = 24 * 60.0
    #: Changes smaller than this count as "unchanged".
    flat_tolerance_cm: float = 0.5
    #: Faster than this is not a river: the reading is refused as an impossible jump.
    max_rise_cm_per_h: float = 400.0
    #: A jump is judged over at least this many minutes (hourly data still allows big rises).
    jump_min_span_min: float = 15.0
    #: Silence: no reading for this long, or for this many reporting intervals if longer.
    silence_min: float = 90.0
    silence_intervals: float = 3.0


@dataclass(slots=True)
class FaultTracker:
    """Per-gauge fault state; ``active`` maps a fault name to the epoch second it began."""

    params: FaultParams = field(default_factory=FaultParams)
    active: dict[str, float] = field(default_factory=dict)
    last_t: float | None = None
    last_interval_s: float = 0.0
    _flat_since: float | None = None
    _flat_value: float | None = None
    _prev_level: float | None = None

    def observe(self, t: float, level_cm: float | None, interval_s: float) -> str | None:
        """Take one reading; returns ``"<fault>"`` on opening, ``"cleared:<fault>"`` on ending.

        Several events at once are reported in priority order (jump, silence end, flat line).
        """
        events = []
        if self.active.pop("silence", None) is not None:
            events.append("cleared:silence")
        if level_cm is not None:
            events.extend(self._level_events(t, level_cm))
        self.last_t = t
        self.last_interval_s = float(interval_s)
        return events[0] if events else None

    def _level_events(self, t: float, level_cm: float) -> list[str]:
        events = []
        jump = self._is_jump(t, level_cm)
        self._prev_level = level_cm
        if jump:
            if "jump" not in self.active:
                self.active["jump"] = t
                events.append("jump")
            return events
        if self.active.pop("jump", None) is not None:
            events.append("cleared:jump")
        if self._flat_value is None or abs(level_cm - self._flat_value) > self.p.flat_tolerance_cm:
            self._flat_value, self._flat_since = level_cm, t
            if self.active.pop("flat_line", None) is not None:
                events.append("cleared:flat_line")
        elif "flat_line" not in self.active and t - self._flat_since >= self.p.flat_line_min * 60:
            self.active["flat_line"] = self._flat_since
            events.append("flat_line")
        return events

    @property
    def p(self) -> FaultParams:
        return self.params

    def _is_jump(self, t: float, level_cm: float) -> bool:
        if self._prev_level is None or self.last_t is None or level_cm < 0:
            return level_cm < 0
        span_h = max(t - self.last_t, self.p.jump_min_span_min * 60.0) / 3600.0
        return abs(level_cm - self._prev_level) / span_h > self.p.max_rise_cm_per_h

    def silence_due(self, now: float) -> bool:
        """Whether ``now`` is past the silence limit; opens the ``silence`` fault once."""
        if self.last_t is None or "silence" in self.active:
            return False
        limit = max(self.p.silence_min * 60.0, self.p.silence_intervals * self.last_interval_s)
        if now - self.last_t <= limit:
            return False
        self.active["silence"] = self.last_t
        return True

    @property
    def stale(self) -> bool:
        """True while the gauge's values must not be trusted as readings."""
        return "flat_line" in self.active or "jump" in self.active
