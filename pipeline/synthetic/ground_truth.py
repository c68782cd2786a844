"""MOTChallenge ground truth per camera: `frame,person_id,x,y,w,h,1,1,visibility`.

Frames are 1-based, person_id is the global identity, the box is the person's full (amodal)
silhouette box clipped to the frame in whole pixels, and visibility is the fraction of the body's
pixels that are visible (hidden by occluders, other people, or the frame edge counts as hidden).
Rows are sorted by frame, then person id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.synthetic.render import RenderedFrame


@dataclass(frozen=True)
class GroundTruthRow:
    frame: int
    person_id: int
    x: int
    y: int
    w: int
    h: int
    visibility: float

    def to_line(self) -> str:
        return f"{self.frame},{self.person_id},{self.x},{self.y},{self.w},{self.h},1,1,{self.visibility:.4f}"

    @classmethod
    def from_line(cls, line: str) -> "GroundTruthRow":
        values = line.strip().split(",")
        if len(values) != 9:
            raise ValueError(f"expected 9 comma-separated values, got {len(values)}: {line.strip()!r}")
        frame, person_id, x, y, w, h = (int(float(v)) for v in values[:6])
        return cls(frame, person_id, x, y, w, h, float(values[8]))


def ground_truth_rows(rendered: RenderedFrame) -> list[GroundTruthRow]:
    return [
        GroundTruthRow(rendered.frame, o.person_id, *o.box, round(o.visibility, 4)) for o in rendered.observations
    ]


def write_ground_truth(path: Path, rows: list[GroundTruthRow]) -> None:
    rows = sorted(rows, key=lambda r: (r.frame, r.person_id))
    Path(path).write_text("".join(row.to_line() + "\n" for row in rows), encoding="ascii")


def read_ground_truth(path: Path) -> list[GroundTruthRow]:
    lines = Path(path).read_text(encoding="ascii").splitlines()
    return [GroundTruthRow.from_line(line) for line in lines if line.strip()]
