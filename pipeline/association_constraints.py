"""Who cannot be whom: the spatio-temporal constraints of cross-camera association.

- Two tracks of one camera that overlap in time are two people (this covers two boxes in one frame).
- Two tracks of different cameras that overlap in time are two people unless those views overlap.
- Optional camera-pair transit windows: moving from one camera's view to the other's takes between
  ``min_s`` and ``max_s`` seconds; it is checked between consecutive tracks of one identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Protocol


@dataclass(frozen=True)
class TransitWindow:
    cameras: tuple[str, str]
    min_s: float = 0.0
    max_s: float = float("inf")


@dataclass
class ConstraintSettings:
    views_overlap: bool = True  # may one person be seen by two cameras at the same time?
    transit_windows: list[TransitWindow] = field(default_factory=list)


class TimeSpan(Protocol):
    @property
    def key(self): ...

    first_timestamp_s: float
    last_timestamp_s: float


def _camera(span) -> str:
    return span.key.camera


def overlap_in_time(a: TimeSpan, b: TimeSpan) -> bool:
    return a.first_timestamp_s <= b.last_timestamp_s and b.first_timestamp_s <= a.last_timestamp_s


class AssociationConstraints:
    def __init__(self, settings: ConstraintSettings):
        self.settings = settings
        self._windows: dict[frozenset, TransitWindow] = {
            frozenset(window.cameras): window for window in settings.transit_windows
        }

    @property
    def has_transit_windows(self) -> bool:
        return bool(self._windows)

    def pair_allowed(self, a: TimeSpan, b: TimeSpan) -> bool:
        """May tracks ``a`` and ``b`` belong to one person (ignoring transit windows)?"""
        if not overlap_in_time(a, b):
            return True
        if _camera(a) == _camera(b):
            return False
        return self.settings.views_overlap

    def timeline_allowed(self, spans: Iterable[TimeSpan]) -> bool:
        """Consecutive tracks (by start time) of one identity in different cameras respect the windows."""
        if not self._windows:
            return True
        ordered = sorted(spans, key=lambda span: span.first_timestamp_s)
        for previous, following in zip(ordered, ordered[1:]):
            if _camera(previous) == _camera(following):
                continue
            window = self._windows.get(frozenset((_camera(previous), _camera(following))))
            if window is None:
                continue
            gap = following.first_timestamp_s - previous.last_timestamp_s
            if gap < window.min_s or gap > window.max_s:
                return False
        return True

    def group_allowed(self, members: list[TimeSpan], candidates: list[TimeSpan]) -> bool:
        """May the tracks ``candidates`` join the identity made of ``members``?"""
        for candidate in candidates:
            for member in members:
                if not self.pair_allowed(candidate, member):
                    return False
        return self.timeline_allowed(list(members) + list(candidates))
