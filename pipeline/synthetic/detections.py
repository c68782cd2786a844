"""Public detections per camera, as a detector would give them: `frame,-1,x,y,w,h,score,-1,-1,-1`.

Derived from the rendered people with a noise model (the table ``DEFAULT_DETECTION_NOISE``):
boxes jitter; heavily occluded people are usually missed and, when found, their box shrinks to
the visible part; small people are missed more; scores drop with occlusion; and a few false
positives appear at person-like sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.synthetic.render import PersonObservation


@dataclass(frozen=True)
class DetectionNoise:
    miss_base: float = 0.03  # miss rate of a fully visible, large person
    miss_occlusion: float = 0.95  # extra miss rate at visibility 0 ...
    occlusion_power: float = 2.0  # ... growing as (1 - visibility) ** power
    never_detected_below_visibility: float = 0.08
    small_height_fraction: float = 0.16  # people shorter than this fraction of the frame height ...
    miss_small: float = 0.2  # ... are missed this much more often
    jitter_position: float = 0.04  # box centre noise, fraction of box size
    jitter_size: float = 0.05  # log-normal size noise
    visible_part_from: float = 0.75  # below this visibility the box moves toward the visible part
    false_positives_per_frame: float = 0.06
    score_noise: float = 0.07


DEFAULT_DETECTION_NOISE = DetectionNoise()


@dataclass(frozen=True)
class Detection:
    frame: int
    x: float
    y: float
    w: float
    h: float
    score: float

    def to_line(self) -> str:
        return f"{self.frame},-1,{self.x:.2f},{self.y:.2f},{self.w:.2f},{self.h:.2f},{self.score:.4f},-1,-1,-1"

    @classmethod
    def from_line(cls, line: str) -> "Detection":
        values = line.strip().split(",")
        if len(values) != 10:
            raise ValueError(f"expected 10 comma-separated values, got {len(values)}: {line.strip()!r}")
        return cls(int(float(values[0])), *(float(v) for v in values[2:7]))


def _clip_box(x, y, w, h, width, height):
    x0, y0 = max(0.0, x), max(0.0, y)
    x1, y1 = min(float(width), x + w), min(float(height), y + h)
    return x0, y0, x1 - x0, y1 - y0


def detect_frame(
    frame: int,
    observations: tuple[PersonObservation, ...] | list[PersonObservation],
    width: int,
    height: int,
    rng: np.random.Generator,
    noise: DetectionNoise = DEFAULT_DETECTION_NOISE,
) -> list[Detection]:
    detections = []
    for obs in observations:
        visibility = obs.visibility
        if visibility < noise.never_detected_below_visibility or obs.visible_box is None:
            continue
        small = obs.box[3] < noise.small_height_fraction * height
        miss = noise.miss_base + noise.miss_occlusion * (1.0 - visibility) ** noise.occlusion_power
        miss += noise.miss_small if small else 0.0
        if rng.uniform() < miss:
            continue
        box = np.array(obs.box, dtype=np.float64)
        towards_visible = np.clip((noise.visible_part_from - visibility) / 0.5, 0.0, 1.0)
        box = (1 - towards_visible) * box + towards_visible * np.array(obs.visible_box, dtype=np.float64)
        x, y, w, h = box
        jitter = rng.normal(size=4)
        cx = x + w / 2 + noise.jitter_position * w * jitter[0]
        cy = y + h / 2 + noise.jitter_position * h * jitter[1]
        w *= float(np.exp(noise.jitter_size * jitter[2]))
        h *= float(np.exp(noise.jitter_size * jitter[3]))
        x, y, w, h = _clip_box(cx - w / 2, cy - h / 2, w, h, width, height)
        if w < 2 or h < 2:
            continue
        score = 0.42 + 0.55 * visibility - (0.1 if small else 0.0) + noise.score_noise * rng.normal()
        detections.append(Detection(frame, x, y, w, h, float(np.clip(score, 0.05, 0.99))))
    for _ in range(rng.poisson(noise.false_positives_per_frame)):
        h = rng.uniform(0.15, 0.4) * height
        w = h * rng.uniform(0.3, 0.55)
        bottom = rng.uniform(0.45, 0.97) * height
        x = rng.uniform(0, width - w)
        x, y, w, h = _clip_box(x, bottom - h, w, h, width, height)
        detections.append(Detection(frame, x, y, w, h, float(rng.uniform(0.25, 0.6))))
    return detections


def write_detections(path: Path, detections: list[Detection]) -> None:
    ordered = sorted(detections, key=lambda d: (d.frame, d.x, d.y))
    Path(path).write_text("".join(d.to_line() + "\n" for d in ordered), encoding="ascii")


def read_detections(path: Path) -> list[Detection]:
    lines = Path(path).read_text(encoding="ascii").splitlines()
    return [Detection.from_line(line) for line in lines if line.strip()]
