"""What a synthetic world is asked to be: the user-facing knobs, validated into one frozen object."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

# The DukeMTMC-reID filename rule `([-\d]+)_c(\d)` holds one camera digit, and the reference
# loader asserts 1 <= camid <= 8.
MAX_CAMERAS = 8
# Person ids are written as `{pid:04d}` in ReID file names.
MAX_IDENTITIES = 9999


class WorldConfigError(ValueError):
    """A configuration that cannot be generated; the message is one user-facing line."""


@dataclass(frozen=True)
class WorldConfig:
    """Parameters of one synthetic multi-camera world (defaults: the issue's reference world)."""

    cameras: int = 3
    identities: int = 40
    seconds: float = 60.0
    fps: float = 10.0
    seed: int = 0
    width: int = 640
    height: int = 360
    # One ReID crop per person track every this many seconds.
    reid_sample_seconds: float = 0.5
    # Fraction of the identities (among those seen by two cameras or more) used as test identities.
    test_fraction: float = 0.5
    write_videos: bool = True

    @property
    def num_frames(self) -> int:
        return max(1, int(round(self.seconds * self.fps)))

    def validated(self) -> "WorldConfig":
        """Return self, or raise WorldConfigError naming the first bad field."""
        _check_int(self.cameras, "cameras", 2, MAX_CAMERAS, "the ReID test split needs two cameras or more")
        _check_int(self.identities, "identities", 2, MAX_IDENTITIES)
        _check_int(self.seed, "seed", 0, 2**63 - 1)
        _check_int(self.width, "width", 160, 3840)
        _check_int(self.height, "height", 90, 2160)
        _check_number(self.seconds, "seconds", 1.0, 3600.0)
        _check_number(self.fps, "fps", 1.0, 60.0)
        _check_number(self.reid_sample_seconds, "reid_sample_seconds", 0.05, 3600.0)
        _check_number(self.test_fraction, "test_fraction", 0.05, 0.95)
        if self.num_frames < 2:
            raise WorldConfigError("seconds * fps must give at least 2 frames")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "WorldConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise WorldConfigError(f"unknown world configuration key(s): {', '.join(unknown)}")
        return cls(**data)


def _check_int(value, name: str, low: int, high: int, why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WorldConfigError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        reason = f" ({why})" if why else ""
        raise WorldConfigError(f"{name} must be between {low} and {high}, got {value}{reason}")


def _check_number(value, name: str, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise WorldConfigError(f"{name} must be a finite number, got {value!r}")
    if not low <= value <= high:
        raise WorldConfigError(f"{name} must be between {low:g} and {high:g}, got {value:g}")
