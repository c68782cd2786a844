"""Score a pipeline run against ground truth: multi-camera IDF1/IDP/IDR and per-camera MOTA, IDF1, ...

    python -m pipeline.evaluate --gt WORLD/gt --pred OUTPUT/mot [--json scores.json] [--min-visibility 0.0]
                                [--no-trackeval]

Prints a table and, under it, TrackEval's multi-camera IDF1 and HOTA as a second opinion (see
``pipeline.trackeval_scores``; ``--no-trackeval`` skips it). ``--json`` also writes
``{"multi_camera": {...}, "per_camera": {camera: {...}}, "per_camera_total": {...}, ...,
"trackeval": {...}}`` (see ``pipeline.mtmc_evaluation``; no "trackeval" key with ``--no-trackeval``).
Bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from pipeline.mtmc_evaluation import DEFAULT_IOU_THRESHOLD, MtmcReport, evaluate_mtmc
from pipeline.trackeval_scores import TrackEvalScores, trackeval_scores
from reid.errors import UserError, run_command_line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.evaluate",
        description="Multi-camera tracking evaluation of MOT files (one {camera}.txt per camera).",
    )
    parser.add_argument("--gt", required=True, type=Path, help="ground-truth directory (gt/cam1.txt, ...)")
    parser.add_argument("--pred", required=True, type=Path, help="prediction directory (OUTPUT/mot)")
    parser.add_argument("--json", type=Path, default=None, help="also write the scores to this JSON file")
    parser.add_argument(
        "--min-visibility", type=float, default=0.0,
        help="ignore ground-truth boxes less visible than this fraction (default 0: score all)",
    )
    parser.add_argument(
        "--iou-threshold", type=float, default=DEFAULT_IOU_THRESHOLD,
        help=f"IoU a prediction needs to match a ground-truth box (default {DEFAULT_IOU_THRESHOLD})",
    )
    parser.add_argument(
        "--no-trackeval", action="store_true", help="skip the second opinion of TrackEval (IDF1 and HOTA)"
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    return parser


def write_json_atomically(path: Path, payload: dict) -> None:
    if path.is_dir():
        raise UserError(f"--json {path} is a directory")
    if not path.parent.is_dir():
        raise UserError(f"--json {path}: directory {path.parent} does not exist")
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror or error}") from None


def trackeval_lines(scores: TrackEvalScores, report: MtmcReport) -> str:
    """Two lines: TrackEval's multi-camera IDF1 (beside ours) and HOTA, in percent."""
    ours = report.multi_camera

    def percent(value: float) -> str:
        return f"{100 * value:.1f}"

    return (
        f"TrackEval {scores.trackeval_version}, multi-camera: IDF1 {percent(scores.idf1)} "
        f"(ours {percent(ours.idf1)}), IDP {percent(scores.idp)}, IDR {percent(scores.idr)}\n"
        f"TrackEval {scores.trackeval_version}, multi-camera: HOTA {percent(scores.hota)} "
        f"(DetA {percent(scores.deta)}, AssA {percent(scores.assa)}; means over IoU 0.05-0.95)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    report = evaluate_mtmc(arguments.gt, arguments.pred, arguments.min_visibility, arguments.iou_threshold)
    second_opinion = None  # computed before anything is printed: an error leaves stdout empty
    if not arguments.no_trackeval:
        second_opinion = trackeval_scores(
            arguments.gt, arguments.pred, arguments.min_visibility, arguments.iou_threshold
        )
    print(report.table())
    payload = report.to_json_dict()
    if second_opinion is not None:
        print(trackeval_lines(second_opinion, report))
        payload["trackeval"] = second_opinion.to_json_dict()
    if arguments.json is not None:
        write_json_atomically(arguments.json, payload)
        print(f"scores written to {arguments.json}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command_line(main))
