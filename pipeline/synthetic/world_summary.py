"""`world.json`: what a generated world contains, written last and read back by ``load_world``.

Paths inside are relative to the world directory; ``World.root`` makes them absolute on load.
Colours in the identities' appearance are BGR (OpenCV order); lengths are metres, times seconds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline.synthetic.config import WorldConfig

WORLD_FORMAT = "bpsema-synthetic-world/1"
WORLD_FILE = "world.json"


class WorldFileError(ValueError):
    """world.json is missing or not a synthetic world description (one user-facing line)."""


@dataclass(frozen=True)
class CameraSummary:
    camera_id: int
    name: str
    video: str
    ground_truth: str
    detections: str
    position_m: tuple[float, float]
    yaw_deg: float
    mount_height_m: float
    focal_px: float
    horizon_row: float
    effects: dict
    occluders: tuple[dict, ...]
    ground_truth_rows: int
    detection_rows: int


@dataclass(frozen=True)
class IdentitySummary:
    person_id: int
    reid_split: str  # "train", "test" or "none" (never cropped)
    cameras_seen: tuple[int, ...]
    height_m: float
    build: float
    appearance: dict
    shares_upper_with: int | None
    shares_lower_with: int | None
    route: dict


@dataclass(frozen=True)
class TransitTime:
    """Observed time from leaving one camera's view to entering another's, over all people."""

    from_camera: int
    to_camera: int
    count: int
    min_s: float
    mean_s: float
    max_s: float
    zone_distance_m: float


@dataclass(frozen=True)
class ReidDatasetSummary:
    root: str
    layout: str  # "DukeMTMC-reID" or "Occluded-Duke"
    masks_dir: str
    mask_suffix: str
    images: dict[str, int]
    identities: dict[str, int]


@dataclass(frozen=True)
class World:
    root: Path
    config: WorldConfig
    width: int
    height: int
    fps: float
    seed: int
    num_frames: int
    cameras: tuple[CameraSummary, ...]
    identities: tuple[IdentitySummary, ...]
    transit_times: tuple[TransitTime, ...]
    reid: ReidDatasetSummary
    reid_occluded: ReidDatasetSummary
    generation_seconds: float = field(default=0.0, compare=False)

    def path(self, relative: str) -> Path:
        return self.root / relative

    def to_json_dict(self) -> dict:
        data = asdict(self)
        data.pop("root")
        data.pop("generation_seconds")
        return {"format": WORLD_FORMAT, **data}

    @classmethod
    def from_json_dict(cls, root: Path, data: dict) -> "World":
        if data.get("format") != WORLD_FORMAT:
            raise WorldFileError(f"{root / WORLD_FILE} is not a synthetic world description ({WORLD_FORMAT})")
        try:
            return cls(
                root=Path(root),
                config=WorldConfig.from_dict(data["config"]),
                width=data["width"],
                height=data["height"],
                fps=data["fps"],
                seed=data["seed"],
                num_frames=data["num_frames"],
                cameras=tuple(
                    CameraSummary(**{**c, "position_m": tuple(c["position_m"]), "occluders": tuple(c["occluders"])})
                    for c in data["cameras"]
                ),
                identities=tuple(
                    IdentitySummary(**{**i, "cameras_seen": tuple(i["cameras_seen"])}) for i in data["identities"]
                ),
                transit_times=tuple(TransitTime(**t) for t in data["transit_times"]),
                reid=ReidDatasetSummary(**data["reid"]),
                reid_occluded=ReidDatasetSummary(**data["reid_occluded"]),
            )
        except (KeyError, TypeError) as error:
            raise WorldFileError(f"{root / WORLD_FILE} is malformed: {error}") from error


def write_world_file(world: World) -> Path:
    path = world.root / WORLD_FILE
    path.write_text(json.dumps(world.to_json_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def load_world(directory: str | Path) -> World:
    """Read a generated world's description back (``DIR/world.json``)."""
    root = Path(directory)
    path = root / WORLD_FILE
    if not path.is_file():
        raise WorldFileError(f"{path} not found: not a generated synthetic world")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise WorldFileError(f"{path} is not valid JSON: {error}") from error
    return World.from_json_dict(root, data)
