"""Rendering a recorded run's annotated videos: the cameras one after another against side by side.

    python benchmarks/video_render.py [--world DIR] [--threads 1,2] [--rounds 2]

After a run on recorded files the video sink decodes every camera's source again and draws the
final ids (``pipeline.sinks.video_sink``). Here the run's boxes are the world's ground truth (each
person's id as its track and global id, the foreground visible), journaled as a run would, then
``finalize`` renders them with each ``video_render_threads`` in turn, alternating, ``--rounds`` times;
printed: seconds per rendering and the ratio to one thread. Default world: the demo's (made on
first use, as ``python run_pipeline.py --demo`` makes it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY_ROOT))  # runnable from a checkout without installing it

from benchmarks.rounds import alternated_rounds  # noqa: E402


def ground_truth_boxes(world: Path, fps: float):
    """The world's ground-truth boxes as TrackBox records, by camera."""
    from pipeline.mtmc_evaluation import read_mot_file
    from pipeline.records import TrackBox

    boxes = {}
    for path in sorted((world / "gt").glob("*.txt")):
        table = read_mot_file(path, ground_truth=True)
        boxes[path.stem] = [
            TrackBox(path.stem, int(frame), (int(frame) - 1) / fps, int(person), (x, y, x + w, y + h), 1.0,
                     (True,), int(person))
            for frame, person, (x, y, w, h) in zip(table.frames, table.ids, table.boxes.tolist())
        ]
    return boxes


def render_once(world: Path, streams, boxes, threads: int) -> float:
    from pipeline.sinks.base import SinkSettings
    from pipeline.sinks.video_sink import VideoSink

    with tempfile.TemporaryDirectory() as output:
        settings = SinkSettings(video=True, video_sources=dict(streams), video_render_threads=threads)
        sink = VideoSink(output, settings)
        last = max(box.frame_index for camera_boxes in boxes.values() for box in camera_boxes)
        by_frame = {}
        for camera_boxes in boxes.values():
            for box in camera_boxes:
                by_frame.setdefault(box.frame_index, []).append(box)
        for frame in range(1, last + 1):
            sink.write_step(by_frame.get(frame, []), [], {camera: None for camera, _ in streams})
        identities = {box.key: box.global_id for camera_boxes in boxes.values() for box in camera_boxes}
        started = time.perf_counter()
        sink.finalize(identities)
        seconds = time.perf_counter() - started
        written = sorted(path.name for path in Path(output).glob("*.mp4"))
        if len(written) != len(streams):
            raise SystemExit(f"error: {len(written)} videos written for {len(streams)} cameras")
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, help="a synthetic world with videos (default: the demo's)")
    parser.add_argument("--threads", default="1,2", help="comma-separated render threads to compare (default 1,2)")
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args(argv)
    threads = [int(value) for value in arguments.threads.split(",")]

    from pipeline.config import load_pipeline_config
    from pipeline.demo import ensure_world, world_streams

    world = arguments.world
    if world is None:
        world = ensure_world(load_pipeline_config(REPOSITORY_ROOT / "configs/pipeline/demo.yaml").demo)
    streams = world_streams(world)
    import json

    fps = float(json.loads((world / "world.json").read_text()).get("fps", 10))
    boxes = ground_truth_boxes(world, fps)
    print(f"{world}: {len(streams)} cameras, {sum(len(b) for b in boxes.values())} boxes")
    seconds = alternated_rounds(threads, arguments.rounds, lambda count: render_once(world, streams, boxes, count))
    base = statistics.median(seconds[threads[0]])
    for count in threads:
        median = statistics.median(seconds[count])
        print(f"  {count} render thread(s): {median:6.2f} s (rounds: {', '.join(f'{value:.2f}' for value in seconds[count])})"
              f"  {base / median:4.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
