"""CLI: python -m pipeline.synthetic --out DIR --cameras 3 --identities 40 --seconds 60 --fps 10 --seed 0"""

from __future__ import annotations

import argparse
import sys
import traceback

from pipeline.synthetic.command_line import OneLineErrorParser
from reid.help_format import DefaultsHelpFormatter
from pipeline.synthetic.config import WorldConfig, WorldConfigError
from pipeline.synthetic.output_directory import WorldOutputError, prepare_output_directory

DEFAULTS = WorldConfig()


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="python -m pipeline.synthetic",
        description="Generate a synthetic occluded multi-camera world: videos, MOT ground truth, "
        "detections, DukeMTMC-reID / Occluded-Duke style ReID sets with part labels, world.json.",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("--out", required=True, help="output directory (created; a previous world there is replaced)")
    parser.add_argument("--cameras", type=int, default=DEFAULTS.cameras, help="cameras along the street, 2-8")
    parser.add_argument("--identities", type=int, default=DEFAULTS.identities,
                        help="people who walk through the world during --seconds (density grows with it)")
    parser.add_argument("--seconds", type=float, default=DEFAULTS.seconds, help="length of every camera's video")
    parser.add_argument("--fps", type=float, default=DEFAULTS.fps, help="frames per second of the videos")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed,
                        help="everything random (people, routes, occluders, camera effects) follows from it")
    parser.add_argument("--width", type=int, default=DEFAULTS.width, help="frame width in pixels")
    parser.add_argument("--height", type=int, default=DEFAULTS.height, help="frame height in pixels")
    parser.add_argument("--reid-sample-seconds", type=float, default=DEFAULTS.reid_sample_seconds,
                        help="one ReID crop per person track every this many seconds")
    parser.add_argument("--no-videos", action="store_true", help="skip writing the mp4 files")
    parser.add_argument("--workers", type=int,
                        help="processes rendering the cameras side by side (default: the usable cores, at most "
                             "one per camera); the world is the same for any number")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = WorldConfig(
            cameras=args.cameras,
            identities=args.identities,
            seconds=args.seconds,
            fps=args.fps,
            seed=args.seed,
            width=args.width,
            height=args.height,
            reid_sample_seconds=args.reid_sample_seconds,
            write_videos=not args.no_videos,
        ).validated()
        if args.workers is not None and args.workers < 1:
            raise WorldConfigError(f"--workers must be at least 1, got {args.workers}")
        prepare_output_directory(args.out)
        # Imported only now: the renderer pulls in the project's part tables (and their imports).
        from pipeline.synthetic.world import generate_world

        world = generate_world(args.out, config, progress=not args.quiet, workers=args.workers)
    except (WorldConfigError, WorldOutputError, OSError) as error:
        if args.debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        return 2
    if world.reid.images["query"] == 0:
        print(
            "warning: no identity was cropped in two cameras, so the ReID test split is empty "
            "(use more --seconds or --identities)",
            file=sys.stderr,
        )
    gt_rows = sum(c.ground_truth_rows for c in world.cameras)
    detections = sum(c.detection_rows for c in world.cameras)
    print(
        f"wrote {world.root}: {len(world.cameras)} cameras x {world.num_frames} frames "
        f"({world.width}x{world.height} @ {world.fps:g} fps), {gt_rows} GT boxes, {detections} detections, "
        f"ReID {sum(world.reid.images.values())} images "
        f"(train {world.reid.identities['bounding_box_train']} ids, "
        f"test {world.reid.identities['bounding_box_test']} ids), "
        f"occluded query {world.reid_occluded.images['query']} images, in {world.generation_seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
