"""Association quality on synthetic worlds: multi-camera IDF1 of each association variant, side by side.

    python benchmarks/association_quality.py --world DIR [--world DIR ...] [--reid MODEL] [--cache DIR] [--set KEY=VALUE ...] [--explain]

Per world, detection (the world's public detections, or with ``--detector yolo`` the config's YOLO
on the videos), feature extraction and tracking run once and
their per-step output is cached (``--cache``, default ``~/.cache/bpsema/association_quality``; one
recording per world, model file content, config and detector);
then the association stage alone is replayed per variant and scored with ``pipeline.mtmc_evaluation``:

- ``online``: online decisions only (no refine, no gap filling);
- ``refine``: + the refine pass (no stitching, no gap filling);
- ``+stitch``: + stitching of fragments inside a camera;
- ``+gaps``: + gap filling (the configured pipeline);
- ``no-split``: the configured pipeline without cutting tracks where their appearance changes;
- ``foreground``: the configured pipeline on the foreground embedding alone;
- ``oracle``: every track relabelled with its majority ground-truth person (what association
  could reach with these tracks; gap filling on).

``--explain`` adds, per variant, where the identity errors sit: tracks under 80 % pure (one track
following several people: tracking), boxes in a global id of another person (false merges) and
people spread over several global ids (missed merges), all by IoU >= 0.5 with the ground truth.

Every variant but ``no-split`` cuts tracks where their appearance changes (``pipeline/track_splitting.py``).
The thresholds are the model's calibration (``distance_threshold: auto``); nothing is fitted to
the worlds.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from pipeline.association import association_settings  # noqa: E402
from pipeline.stages import AssociationStage  # noqa: E402

VARIANTS = ("online", "refine", "+stitch", "+gaps", "no-split", "foreground", "oracle")


class RecordingAssociationStage(AssociationStage):
    """The association stage that also keeps every step's tracked frames (for replays)."""

    recorded: list = []

    def process_step(self, timestamp_s, tracked_frames, images=None):
        RecordingAssociationStage.recorded.append((timestamp_s, list(tracked_frames)))
        super().process_step(timestamp_s, tracked_frames, None)


def recording_path(cache: Path, world: Path, model: str, config_name: str) -> Path:
    """Where a world's recording is cached: the model's bytes name it too, so a retrained or refitted
    model at the same path records afresh."""
    from reid.checkpoint import file_sha256

    return cache / f"{world.resolve().name}_{Path(model).name}_{file_sha256(model)[:10]}_{config_name}.pickle"


def use_detector(config, detector: str) -> None:
    """Point ``config`` at the world's public detections ("detections") or at YOLO ("yolo": the config's,
    else the shipped detector)."""
    if detector == "detections":
        config.detector.backend = "detections"
    elif config.detector.backend != "yolo":
        config.detector.backend, config.detector.weights = "yolo", "models/yolo11n_synthetic_person.pt"


def record_world(world: Path, model: str, cache: Path, config, config_name: str = "demo"):
    """The world's per-step tracked frames (cached) and the extractor description."""
    from pipeline.demo import world_streams
    from pipeline.runner import InProcessRunner
    from reid.runtime import load_extractor

    path = recording_path(cache, world, model, config_name)
    if path.is_file():
        with open(path, "rb") as handle:
            return pickle.load(handle)
    extractor = load_extractor(model, backend=config.extractor.backend, max_batch=config.extractor.batch_size)
    RecordingAssociationStage.recorded = []
    with tempfile.TemporaryDirectory() as output:
        runner = InProcessRunner(
            config, world_streams(world), extractor, output, progress=False,
            association_stage=RecordingAssociationStage,
        )
        runner.run()
    description = runner.extraction.describe()
    recorded = (description, RecordingAssociationStage.recorded)
    RecordingAssociationStage.recorded = []
    cache.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump(recorded, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return recorded


def recording_suffix(overrides) -> str:
    """What tells a cached recording apart when ``--set`` changed detection, extraction or tracking
    (overrides of ``association.*`` are replayed, not recorded): "" or "_" + 10 hex digits."""
    import hashlib

    recorded = [override for override in overrides if not override.strip().startswith("association.")]
    return "_" + hashlib.sha1("\n".join(recorded).encode()).hexdigest()[:10] if recorded else ""


def replay(recorded, settings, cameras, output: Path, identity_override=None) -> dict:
    """Run the association stage alone over recorded steps (the MOT files go to ``output``);
    returns the seconds it took and the stage."""
    from pipeline.sinks import SinkSettings

    description, steps = recorded
    stage = AssociationStage(settings, description, output, cameras, SinkSettings(events=False, sqlite=False))
    started = time.perf_counter()
    try:
        for timestamp, tracked in steps:
            stage.process_step(timestamp, tracked, None)
        if identity_override is not None:
            identity_override(stage)
        stage.finish(steps[-1][0] if steps else 0.0)
    finally:
        stage.close()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "stage": stage}


def ground_truth_tables(ground_truth: Path) -> dict:
    from pipeline.mtmc_evaluation import read_mot_file

    return {path.stem: read_mot_file(path, ground_truth=True) for path in sorted(ground_truth.glob("*.txt"))}


def ground_truth_votes(stage, tables: dict) -> dict:
    """Per track (tracklet key), how many of its boxes overlap each ground-truth person (IoU >= 0.5)."""
    from pipeline.mtmc_evaluation import iou_xywh

    history = stage.box_history
    votes: dict = {}
    for key, frames in history._frames.items():
        table = tables.get(key.camera)
        if table is None:
            continue
        for frame, box in zip(frames, history._boxes[key]):
            rows = np.flatnonzero(table.frames == frame)
            if not len(rows):
                continue
            xywh = np.array([[box[0], box[1], box[2] - box[0], box[3] - box[1]]])
            overlaps = iou_xywh(xywh, table.boxes[rows])[0]
            best = int(np.argmax(overlaps))
            if overlaps[best] >= 0.5:
                person = int(table.ids[rows[best]])
                votes.setdefault(key, {}).setdefault(person, 0)
                votes[key][person] += 1
    return votes


PURE_TRACK = 0.8  # a track is impure when under 80 % of its matched boxes are of its majority person


def identity_breakdown(stage, tables: dict) -> str:
    """Where a finished run's identity errors sit: tracks that hold several people (tracking), global ids
    that hold several people (false merges), people spread over several global ids (missed merges)."""
    from collections import Counter, defaultdict

    votes = ground_truth_votes(stage, tables)
    assignments = stage.association.assignments
    impure = {key: counts for key, counts in votes.items() if max(counts.values()) < PURE_TRACK * sum(counts.values())}
    people_of_identity: dict = defaultdict(Counter)
    identities_of_person: dict = defaultdict(Counter)
    for key, counts in votes.items():
        if key not in assignments:
            continue
        people_of_identity[assignments[key]].update(counts)
        majority = max(counts, key=counts.get)
        identities_of_person[majority][assignments[key]] += sum(counts.values())
    merged_wrongly = sum(sum(people.values()) - max(people.values()) for people in people_of_identity.values())
    spread = {person: ids for person, ids in identities_of_person.items() if len(ids) > 1}
    outside_main = sum(sum(ids.values()) - max(ids.values()) for ids in spread.values())
    return (f"{len(votes)} tracks, {len(impure)} under {PURE_TRACK:.0%} pure ({sum(sum(c.values()) for c in impure.values())} "
            f"boxes); {len(people_of_identity)} global ids for {len(identities_of_person)} people; {merged_wrongly} boxes in "
            f"ids of another person; {len(spread)} people over several ids ({outside_main} boxes outside their main id)")


def oracle_override(ground_truth: Path):
    """An override that relabels every track with its majority ground-truth person (by IoU >= 0.5)."""
    tables = ground_truth_tables(ground_truth)

    def apply(stage):
        association = stage.association
        votes = ground_truth_votes(stage, tables)
        mapping = {key: max(counts, key=counts.get) for key, counts in votes.items()}
        # two tracks of one camera at one time cannot both be the person: the smaller one is not
        tracklets = association.all_tracklets()
        unused = itertools.count(10_000_000)
        for key in sorted(mapping, key=lambda key: -votes[key][mapping[key]]):
            for other in mapping:
                if other != key and other.camera == key.camera and mapping[other] == mapping[key]:
                    a, b = tracklets[key], tracklets[other]
                    if a.first_timestamp_s <= b.last_timestamp_s and b.first_timestamp_s <= a.last_timestamp_s:
                        if votes[other][mapping[other]] <= votes[key][mapping[key]]:
                            mapping[other] = next(unused)  # a person of its own (ids stay >= 0)
        offset = 1_000_000
        association.refine = lambda timestamp: []  # keep the oracle's labels
        association.assignments = {key: offset + person for key, person in mapping.items()}

    return apply


def main(argv=None) -> int:
    from pipeline.calibration import resolve_distance_threshold
    from pipeline.config import load_pipeline_config
    from pipeline.mtmc_evaluation import evaluate_mtmc

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", action="append", required=True, type=Path)
    parser.add_argument("--reid", default=str(REPOSITORY / "models/bpsema_small_synthetic.pt"))
    parser.add_argument("--config", default=str(REPOSITORY / "configs/pipeline/demo.yaml"),
                        help="pipeline YAML (default: the one run_pipeline.py --world uses)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/bpsema/association_quality")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--detector", choices=("detections", "yolo"), default="detections",
                        help="the world's public detections (default) or the config's YOLO on the videos")
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                        help="override one setting of --config (repeatable), e.g. "
                             "--set association.splitting.threshold=0.95; overrides outside association: start "
                             "a recording of their own in the cache")
    parser.add_argument("--threshold-scale", type=float, default=1.0,
                        help="multiply the calibrated thresholds (to study their effect; the pipeline uses 1)")
    parser.add_argument("--explain", action="store_true",
                        help="per variant, where the identity errors sit: impure tracks, false and missed merges")
    arguments = parser.parse_args(argv)

    from reid.log_levels import set_verbosity

    set_verbosity("normal")  # as run_pipeline.py: the libraries' warnings, not BoxMOT's settings per camera
    config = load_pipeline_config(arguments.config, arguments.overrides)
    use_detector(config, arguments.detector)
    config.output.videos = False
    threshold, origin = resolve_distance_threshold(config.association, arguments.reid)
    print(f"thresholds: {origin}")
    rows = []
    for world in arguments.world:
        config.detector.detections_dir = str(world / "det")
        started = time.perf_counter()
        recorded = record_world(world, arguments.reid, arguments.cache, config,
                                f"{Path(arguments.config).stem}_{arguments.detector}{recording_suffix(arguments.overrides)}")
        cameras = sorted({frame.camera for _, frames in recorded[1] for frame in frames})
        print(f"{world}: {len(recorded[1])} steps, {len(cameras)} cameras (recorded in {time.perf_counter() - started:.0f} s)")
        tables = ground_truth_tables(world / "gt") if arguments.explain else None
        for variant in arguments.variants:
            association = dataclasses.replace(config.association)
            if variant == "foreground":
                association.distance = "foreground"
                association.thresholds_by_shared = None
                association.distance_threshold = "auto"
                resolve_distance_threshold(association, arguments.reid)
            settings = association_settings(association)
            if arguments.threshold_scale != 1.0:
                scaled = tuple(arguments.threshold_scale * value for value in settings.match_rule().thresholds_by_shared)
                settings = dataclasses.replace(
                    settings, thresholds_by_shared=scaled, distance_threshold=arguments.threshold_scale * settings.distance_threshold
                )
            if variant == "no-split":
                settings = dataclasses.replace(settings, splitting=dataclasses.replace(settings.splitting, enabled=False))
            if variant == "online":
                settings = dataclasses.replace(settings, refine=False, gap_filling_max_s=0.0)
            elif variant == "refine":
                settings = dataclasses.replace(
                    settings, gap_filling_max_s=0.0, stitching=dataclasses.replace(settings.stitching, enabled=False)
                )
            elif variant == "+stitch":
                settings = dataclasses.replace(settings, gap_filling_max_s=0.0)
            override = oracle_override(world / "gt") if variant == "oracle" else None
            with tempfile.TemporaryDirectory() as output:
                result = replay(recorded, settings, cameras, Path(output), override)
                report = evaluate_mtmc(world / "gt", Path(output) / "mot")
            score = report.multi_camera
            rows.append((world.name, variant, score.idf1, score.idp, score.idr, result["seconds"]))
            print(f"  {variant:>8}: IDF1 {100 * score.idf1:5.1f}  IDP {100 * score.idp:5.1f}  IDR {100 * score.idr:5.1f}"
                  f"  ({result['seconds']:.1f} s)", flush=True)
            if arguments.explain:
                print(f"            {identity_breakdown(result['stage'], tables)}", flush=True)
    print()
    print(f"{'world':>12} | " + " | ".join(f"{variant:>7}" for variant in arguments.variants))
    for world in dict.fromkeys(row[0] for row in rows):
        values = {row[1]: row[2] for row in rows if row[0] == world}
        print(f"{world:>12} | " + " | ".join(f"{100 * values[variant]:7.1f}" for variant in arguments.variants))
    return 0


if __name__ == "__main__":
    sys.exit(main())
