"""Generating a synthetic world on disk: videos, ground truth, detections, ReID sets, world.json.

Layout of ``out_dir``::

    videos/cam{c}.mp4          MPEG-4 part 2 ('mp4v'), readable by OpenCV and ffmpeg
    gt/cam{c}.txt              MOTChallenge ground truth (see ``ground_truth``)
    det/cam{c}.txt             public detections (see ``detections``)
    reid/                      DukeMTMC-reID layout + masks/ + annotations.csv (see ``reid_dataset``)
    reid_occluded/             Occluded-Duke layout, same conventions
    world.json                 cameras, identities, transit times, counts (see ``world_summary``)
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from reid.progress import progress_bar

from pipeline.synthetic.camera_effects import camera_effects_for
from pipeline.synthetic.config import WorldConfig
from pipeline.synthetic.detections import detect_frame, write_detections
from pipeline.synthetic.ground_truth import GroundTruthRow, ground_truth_rows, write_ground_truth
from pipeline.synthetic.output_directory import WorldOutputError, prepare_output_directory
from pipeline.synthetic.part_labels import DUKE_MASK_SUFFIX, MASKS_DIR, OCCLUDED_DUKE_MASK_SUFFIX
from pipeline.synthetic.random_streams import random_stream
from pipeline.synthetic.reid_dataset import (
    SPLITS,
    CropSample,
    cut_crop,
    duke_layout,
    occluded_duke_layout,
    sample_stride,
    should_sample,
    split_identities,
    write_reid_dataset,
)
from pipeline.synthetic.render import CameraRenderer
from pipeline.synthetic.world_plan import WorldPlan, plan_world
from pipeline.synthetic.world_summary import (
    CameraSummary,
    IdentitySummary,
    ReidDatasetSummary,
    TransitTime,
    World,
    load_world,
    write_world_file,
)

__all__ = ["WorldOutputError", "generate_world", "load_world"]


def _render_camera(
    plan: WorldPlan, camera_id: int, out: Path, progress: tqdm | None
) -> tuple[list[GroundTruthRow], int, list[CropSample]]:
    config = plan.config
    renderer = CameraRenderer(plan, camera_id)
    writer = None
    if config.write_videos:
        path = out / "videos" / f"cam{camera_id}.mp4"
        fourcc = cv2.VideoWriter_fourcc(*"mp4v")
        writer = cv2.VideoWriter(str(path), fourcc, float(config.fps), (config.width, config.height))
        if not writer.isOpened():
            raise WorldOutputError(f"OpenCV cannot open an 'mp4v' video writer for {path}")
    detection_rng = random_stream(config.seed, "detections", camera_id)
    stride = sample_stride(config.fps, config.reid_sample_seconds)
    rows: list[GroundTruthRow] = []
    detections = []
    crops: list[CropSample] = []
    try:
        for frame in range(1, config.num_frames + 1):
            rendered = renderer.render(frame)
            if writer is not None:
                writer.write(rendered.image)
            rows.extend(ground_truth_rows(rendered))
            detections.extend(detect_frame(frame, rendered.observations, config.width, config.height, detection_rng))
            crops.extend(
                cut_crop(rendered, o) for o in rendered.observations if should_sample(o, frame, stride, config.height)
            )
            if progress is not None:
                progress.update(1)
    finally:
        if writer is not None:
            writer.release()
    write_ground_truth(out / "gt" / f"cam{camera_id}.txt", rows)
    write_detections(out / "det" / f"cam{camera_id}.txt", detections)
    return rows, len(detections), crops


class _QueueProgress:
    """A worker's progress: frames rendered, sent to the parent's bar through a queue (every 10)."""

    def __init__(self, sink):
        self.sink, self.pending = sink, 0

    def update(self, frames: int) -> None:
        self.pending += frames
        if self.pending >= 10:
            self.sink.put(self.pending)
            self.pending = 0

    def flush(self) -> None:
        if self.pending:
            self.sink.put(self.pending)
            self.pending = 0


_worker_progress: _QueueProgress | None = None


def _start_render_worker(progress_queue) -> None:
    global _worker_progress
    cv2.setNumThreads(1)  # the cameras are the parallelism: one thread each
    _worker_progress = _QueueProgress(progress_queue) if progress_queue is not None else None


def _render_camera_in_worker(plan: WorldPlan, camera_id: int, out: str):
    try:
        return _render_camera(plan, camera_id, Path(out), _worker_progress)
    finally:
        if _worker_progress is not None:
            _worker_progress.flush()


def _render_cameras(plan: WorldPlan, out: Path, bar, workers: int) -> list[tuple[list[GroundTruthRow], int, list[CropSample]]]:
    """``_render_camera`` for every camera, in camera order; ``workers`` > 1: that many processes
    (spawned: nothing of the caller's threads or libraries is inherited), each camera on its own
    random streams, so the world is the same byte for byte whatever the number of workers."""
    cameras = [camera.camera_id for camera in plan.layout.cameras]
    if workers <= 1 or len(cameras) <= 1:
        results = []
        for camera_id in cameras:
            if bar is not None:
                bar.set_postfix_str(f"cam{camera_id}")
            results.append(_render_camera(plan, camera_id, out, bar))
        return results
    context = multiprocessing.get_context("spawn")
    progress_queue = context.Queue() if bar is not None else None
    with ProcessPoolExecutor(min(workers, len(cameras)), mp_context=context, initializer=_start_render_worker,
                             initargs=(progress_queue,)) as executor:
        futures = [executor.submit(_render_camera_in_worker, plan, camera_id, str(out)) for camera_id in cameras]
        pending = set(futures)
        try:
            while pending:
                _, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(progress_queue, bar)
            _drain(progress_queue, bar)
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _drain(progress_queue, bar) -> None:
    if progress_queue is None:
        return
    while True:
        try:
            bar.update(progress_queue.get_nowait())
        except queue.Empty:
            return


def _transit_times(plan: WorldPlan, rows_by_camera: dict[int, list[GroundTruthRow]]) -> tuple[TransitTime, ...]:
    fps = plan.config.fps
    spans: dict[int, list[tuple[int, int, int]]] = defaultdict(list)  # pid -> (first, last, camera)
    for camera_id, rows in rows_by_camera.items():
        frames = defaultdict(list)
        for row in rows:
            frames[row.person_id].append(row.frame)
        for pid, seen in frames.items():
            spans[pid].append((min(seen), max(seen), camera_id))
    gaps = defaultdict(list)
    for pid, visits in spans.items():
        visits.sort()
        for (_, last, a), (first, _, b) in zip(visits, visits[1:]):
            gaps[(a, b)].append((first - last) / fps)
    zone_x = plan.layout.zone_x
    return tuple(
        TransitTime(
            from_camera=a,
            to_camera=b,
            count=len(values),
            min_s=round(float(np.min(values)), 3),
            mean_s=round(float(np.mean(values)), 3),
            max_s=round(float(np.max(values)), 3),
            zone_distance_m=round(abs(zone_x[b - 1] - zone_x[a - 1]), 3),
        )
        for (a, b), values in sorted(gaps.items())
    )


def _reid_summary(root: str, layout_name: str, suffix: str, layout: dict[str, list[CropSample]]) -> ReidDatasetSummary:
    return ReidDatasetSummary(
        root=root,
        layout=layout_name,
        masks_dir=f"masks/{MASKS_DIR}",
        mask_suffix=suffix,
        images={split: len(layout[split]) for split in SPLITS},
        identities={split: len({s.person_id for s in layout[split]}) for split in SPLITS},
    )


def generate_world(
    out_dir: str | Path, config: WorldConfig = WorldConfig(), progress: bool = True, workers: int | None = 1
) -> World:
    """Render and write a whole world into ``out_dir``; returns what ``load_world(out_dir)`` reads back.

    workers: processes that render the cameras side by side (at most one per camera; the output is
    the same for any number); None: as many as this process has usable cores. 1 renders them here,
    one after the other: worth it for small worlds, where starting a process costs more than it saves."""
    if workers is None:
        from reid.cpu_cores import cpu_core_count

        workers = cpu_core_count()
    started = time.perf_counter()
    config = config.validated()
    out = prepare_output_directory(out_dir)
    plan = plan_world(config)
    bar = progress_bar(total=config.cameras * config.num_frames, desc="rendering", unit="frame", enabled=progress)
    rows_by_camera: dict[int, list[GroundTruthRow]] = {}
    detection_counts: dict[int, int] = {}
    samples: list[CropSample] = []
    with bar:
        rendered = _render_cameras(plan, out, bar if progress else None, workers)
    for camera, (rows, detection_count, crops) in zip(plan.layout.cameras, rendered):
        rows_by_camera[camera.camera_id] = rows
        detection_counts[camera.camera_id] = detection_count
        samples.extend(crops)

    train_ids, test_ids = split_identities(samples, config.test_fraction, config.seed)
    duke = duke_layout(samples, train_ids, test_ids, config.seed)
    occluded = occluded_duke_layout(samples, train_ids, test_ids, config.seed)
    fields_cache: dict = {}
    with progress_bar(total=2, desc="writing ReID sets", unit="set", enabled=progress) as writing:
        write_reid_dataset(out / "reid", duke, DUKE_MASK_SUFFIX, fields_cache)
        writing.update(1)
        write_reid_dataset(out / "reid_occluded", occluded, OCCLUDED_DUKE_MASK_SUFFIX, fields_cache)
        writing.update(1)

    cameras_seen = defaultdict(set)
    for camera_id, rows in rows_by_camera.items():
        for row in rows:
            cameras_seen[row.person_id].add(camera_id)
    split_of = {pid: "train" for pid in train_ids} | {pid: "test" for pid in test_ids}
    world = World(
        root=out,
        config=config,
        width=config.width,
        height=config.height,
        fps=config.fps,
        seed=config.seed,
        num_frames=config.num_frames,
        cameras=tuple(
            CameraSummary(
                camera_id=camera.camera_id,
                name=camera_effects_for(camera.camera_id).name,
                video=f"videos/cam{camera.camera_id}.mp4" if config.write_videos else "",
                ground_truth=f"gt/cam{camera.camera_id}.txt",
                detections=f"det/cam{camera.camera_id}.txt",
                **{k: v for k, v in camera.to_dict().items() if k != "camera_id"},
                effects=camera_effects_for(camera.camera_id).to_dict(),
                occluders=tuple(o.to_dict() for o in plan.occluders[camera.camera_id]),
                ground_truth_rows=len(rows_by_camera[camera.camera_id]),
                detection_rows=detection_counts[camera.camera_id],
            )
            for camera in plan.layout.cameras
        ),
        identities=tuple(
            IdentitySummary(
                person_id=identity.person_id,
                reid_split=split_of.get(identity.person_id, "none"),
                cameras_seen=tuple(sorted(cameras_seen[identity.person_id])),
                **{k: v for k, v in identity.to_dict().items() if k != "person_id"},
                route={k: v for k, v in trajectory.to_dict().items() if k != "person_id"},
            )
            for identity, trajectory in zip(plan.identities, plan.trajectories)
        ),
        transit_times=_transit_times(plan, rows_by_camera),
        reid=_reid_summary("reid", "DukeMTMC-reID", DUKE_MASK_SUFFIX, duke),
        reid_occluded=_reid_summary("reid_occluded", "Occluded-Duke", OCCLUDED_DUKE_MASK_SUFFIX, occluded),
    )
    write_world_file(world)
    # Hand back exactly what load_world reads (JSON types), plus the time it took.
    return replace(load_world(out), generation_seconds=time.perf_counter() - started)
