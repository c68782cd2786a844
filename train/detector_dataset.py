"""Person-detection training data from synthetic worlds, in the ultralytics YOLO dataset layout.

  python -m train.detector_dataset --out DIR --generate 24            # training worlds, then convert
  python -m train.detector_dataset --out DIR --world W1 --world W2 --val-world W3

Written under ``DIR``::

    images/{train,val}/<world>_cam<c>_<frame>.jpg   frames decoded from the world's videos (the
                                                    compressed frames the pipeline sees)
    labels/{train,val}/<same>.txt                   one ``0 cx cy w h`` line per person (normalised)
    data.yaml                                       ``path``, ``train``, ``val``, ``names: {0: person}``
    sources.json                                    the worlds, their seeds and shapes, the label rule

Labels are the ground truth's amodal person boxes (``gt/cam<c>.txt``) whose visibility is at least
``--min-visibility``; people hidden more than that are left unlabelled. The held-out split is made of
whole worlds (``--val-world``, or the last ``--val-worlds`` generated ones): frames of one world are
too alike to split between train and val.

Generated worlds take their seeds from ``DETECTOR_TRAINING_SEEDS`` (``seed_base + k``), a range no
test or demo world uses, and vary cameras, people and density per world.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from reid.help_format import DefaultsHelpFormatter
from reid.errors import UserError, run_command_line

# World seeds of the detector's training namespace: 7.1e12 + k. Demo and test worlds use small seeds.
DETECTOR_TRAINING_SEED_BASE = 7_100_000_000_000
DEFAULT_MIN_VISIBILITY = 0.2


@dataclass(frozen=True)
class TrainingWorldShape:
    """One generated training world: its seed and shape."""

    seed: int
    cameras: int
    identities: int
    seconds: float
    fps: float


def training_world_shapes(count: int, seed_base: int = DETECTOR_TRAINING_SEED_BASE) -> list[TrainingWorldShape]:
    """``count`` world shapes drawn from ``seed_base``: 2-8 cameras, 20-160 people in 60 s, 2 fps
    (frames half a second apart: more different views per rendered frame than the pipeline's 10 fps)."""
    rng = np.random.default_rng(seed_base)
    return [
        TrainingWorldShape(
            seed=seed_base + k,
            cameras=int(rng.integers(2, 9)),
            identities=int(rng.integers(20, 161)),
            seconds=60.0,
            fps=2.0,
        )
        for k in range(count)
    ]


def generate_training_worlds(directory: Path, shapes: list[TrainingWorldShape], progress: bool = True) -> list[Path]:
    """Generate (or reuse, when already complete) one world per shape under ``directory``."""
    from pipeline.synthetic import WorldConfig, generate_world

    worlds = []
    for shape in shapes:
        path = directory / f"world_{shape.seed}"
        if not (path / "world.json").is_file():
            config = WorldConfig(cameras=shape.cameras, identities=shape.identities, seconds=shape.seconds,
                                 fps=shape.fps, seed=shape.seed, reid_sample_seconds=3600.0)
            generate_world(path, config, progress=False)
            if progress:
                print(f"generated {path.name}: {shape.cameras} cameras, {shape.identities} people", flush=True)
        worlds.append(path)
    return worlds


def yolo_label_lines(boxes_xywh: np.ndarray, width: int, height: int) -> list[str]:
    """``0 cx cy w h`` lines, normalised to the image size, for pixel boxes ``[N, 4]`` (x, y, w, h)."""
    lines = []
    for x, y, w, h in np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4):
        x0, y0 = max(0.0, x), max(0.0, y)
        x1, y1 = min(float(width), x + w), min(float(height), y + h)
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        lines.append(f"0 {(x0 + x1) / 2 / width:.6f} {(y0 + y1) / 2 / height:.6f} "
                     f"{(x1 - x0) / width:.6f} {(y1 - y0) / height:.6f}")
    return lines


def world_boxes_by_frame(ground_truth_file: Path, min_visibility: float) -> dict[int, np.ndarray]:
    """Frame (1-based) -> amodal boxes ``[N, 4]`` (x, y, w, h) of people at least ``min_visibility`` visible."""
    from pipeline.synthetic.ground_truth import read_ground_truth

    by_frame: dict[int, list] = defaultdict(list)
    for row in read_ground_truth(ground_truth_file):
        if row.visibility >= min_visibility:
            by_frame[row.frame].append((row.x, row.y, row.w, row.h))
    return {frame: np.array(boxes, dtype=np.float64) for frame, boxes in by_frame.items()}


def world_video_frames(world_directory: Path, camera, every_n_frames: int = 1):
    """Yield ``(frame_number, BGR uint8 [H, W, 3])`` for every ``every_n_frames``-th frame (1-based, from
    frame 1) of one camera of a world (``camera``: a ``CameraSummary``)."""
    import cv2

    if not camera.video:
        raise UserError(f"{world_directory}: camera {camera.camera_id} has no video (generated with --no-videos)")
    path = world_directory / camera.video
    capture = cv2.VideoCapture(str(path))
    frame_number = 0
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            frame_number += 1
            if (frame_number - 1) % every_n_frames == 0:
                yield frame_number, image
    finally:
        capture.release()
    if frame_number == 0:
        raise UserError(f"{path}: no frame could be decoded")


def world_frame_batches(world_directory: Path, world, every_n_frames: int = 1):
    """Yield, for every ``every_n_frames``-th frame number, the ``Frame`` of every camera of the world
    (``world``: its ``load_world`` description) - one detector batch, as the pipeline's step has it."""
    from pipeline.records import Frame

    streams = [world_video_frames(world_directory, camera, every_n_frames) for camera in world.cameras]
    for decoded in zip(*streams):
        yield [Frame(f"cam{camera.camera_id}", number, (number - 1) / world.fps, image)
               for camera, (number, image) in zip(world.cameras, decoded)]


def load_world_or_fail(world_directory: Path):
    """The world's description, or one clear line."""
    from pipeline.synthetic import load_world

    try:
        return load_world(world_directory)
    except Exception as error:
        raise UserError(f"{world_directory}: not a synthetic world ({error})") from None


def convert_world(world_directory: Path, out: Path, split: str, every_n_frames: int, min_visibility: float,
                  jpeg_quality: int = 95) -> int:
    """Write the world's frames (every ``every_n_frames``-th, from frame 1) and labels into ``out``; returns
    the number of images. Frames without any person are kept too (negatives)."""
    import cv2

    world = load_world_or_fail(world_directory)
    images = out / "images" / split
    labels = out / "labels" / split
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    prefix = f"{world_directory.name}_"
    written = 0
    for camera in world.cameras:
        boxes = world_boxes_by_frame(world_directory / camera.ground_truth, min_visibility)
        for frame_number, image in world_video_frames(world_directory, camera, every_n_frames):
            stem = f"{prefix}cam{camera.camera_id}_{frame_number:06d}"
            cv2.imwrite(str(images / f"{stem}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
            lines = yolo_label_lines(boxes.get(frame_number, np.zeros((0, 4))), image.shape[1], image.shape[0])
            (labels / f"{stem}.txt").write_text("".join(line + "\n" for line in lines), encoding="ascii")
            written += 1
    return written


def write_data_yaml(out: Path) -> Path:
    import yaml

    path = out / "data.yaml"
    path.write_text(yaml.safe_dump({"path": str(out.resolve()), "train": "images/train", "val": "images/val",
                                    "names": {0: "person"}}, sort_keys=False), encoding="utf-8")
    return path


def build_dataset(out: Path, train_worlds: list[Path], val_worlds: list[Path], every_n_frames: int = 1,
                  min_visibility: float = DEFAULT_MIN_VISIBILITY, shapes: list[TrainingWorldShape] | None = None,
                  progress: bool = True) -> dict:
    """Convert the worlds into ``out`` (replacing its images and labels); returns the sources summary."""
    import shutil

    if not train_worlds or not val_worlds:
        raise UserError("the detector dataset needs at least one training world and one held-out (val) world")
    started = time.perf_counter()
    for sub in ("images", "labels"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    counts = {"train": 0, "val": 0}
    for split, worlds in (("train", train_worlds), ("val", val_worlds)):
        for world in worlds:
            counts[split] += convert_world(world, out, split, every_n_frames, min_visibility)
            if progress:
                print(f"converted {world.name} ({split}): {counts[split]} {split} images so far", flush=True)
    write_data_yaml(out)
    summary = {
        "images": counts,
        "train_worlds": [str(w) for w in train_worlds],
        "val_worlds": [str(w) for w in val_worlds],
        "every_n_frames": every_n_frames,
        "min_visibility": min_visibility,
        "label": "amodal ground-truth person boxes (gt/cam<c>.txt) with visibility >= min_visibility; class 0 person",
        "generated_shapes": [asdict(s) for s in shapes] if shapes else None,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "sources.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def main(argv=None) -> int:
    from pipeline.synthetic.command_line import OneLineErrorParser

    parser = OneLineErrorParser(prog="python -m train.detector_dataset",
                                description="Person-detection training data (ultralytics YOLO layout) from "
                                            "synthetic worlds.",
                                formatter_class=DefaultsHelpFormatter)
    parser.add_argument("--out", required=True, help="dataset directory (images/, labels/, data.yaml)")
    parser.add_argument("--world", action="append", default=[], metavar="DIR", help="a training world (repeatable)")
    parser.add_argument("--val-world", action="append", default=[], metavar="DIR",
                        help="a held-out world for validation (repeatable)")
    parser.add_argument("--generate", type=int, default=0, metavar="N",
                        help="generate N worlds of the detector's training seed namespace into OUT/worlds "
                             "(reused when present) and use them")
    parser.add_argument("--val-worlds", type=int, default=2,
                        help="with --generate: how many of the generated worlds are held out for validation")
    parser.add_argument("--seed-base", type=int, default=DETECTOR_TRAINING_SEED_BASE,
                        help="with --generate: world k gets seed SEED_BASE + k")
    parser.add_argument("--every-n-frames", type=int, default=1, help="keep every n-th frame of each video")
    parser.add_argument("--min-visibility", type=float, default=DEFAULT_MIN_VISIBILITY,
                        help="label people at least this visible; the rest stay unlabelled")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    arguments = parser.parse_args(argv)
    if arguments.every_n_frames < 1:
        raise UserError(f"--every-n-frames must be at least 1, got {arguments.every_n_frames}")
    if not 0.0 <= arguments.min_visibility <= 1.0:
        raise UserError(f"--min-visibility must be between 0 and 1, got {arguments.min_visibility}")
    if arguments.generate < 0 or (arguments.generate and not 1 <= arguments.val_worlds < arguments.generate):
        raise UserError("--generate N needs N >= 2 and 1 <= --val-worlds < N")
    for world in arguments.world + arguments.val_world:
        if not (Path(world) / "world.json").is_file():
            raise UserError(f"{world}: not a synthetic world (no world.json)")
    out = Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    train_worlds = [Path(w) for w in arguments.world]
    val_worlds = [Path(w) for w in arguments.val_world]
    shapes = None
    if arguments.generate:
        shapes = training_world_shapes(arguments.generate, arguments.seed_base)
        generated = generate_training_worlds(out / "worlds", shapes, progress=not arguments.quiet)
        train_worlds += generated[: -arguments.val_worlds]
        val_worlds += generated[-arguments.val_worlds:]
    summary = build_dataset(out, train_worlds, val_worlds, arguments.every_n_frames, arguments.min_visibility,
                            shapes, progress=not arguments.quiet)
    print(f"wrote {out / 'data.yaml'}: {summary['images']['train']} train and {summary['images']['val']} val images "
          f"from {len(train_worlds)} + {len(val_worlds)} worlds in {summary['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command_line(main))
