"""Search by image on a finished run: does a crop of a track find that track's identity first?

    python run_pipeline.py --demo && python benchmarks/web_search_quality.py --results outputs/demo

For every track with a final global id, the middle one of its detected boxes (not gap-filled ones)
is cut from the camera's recorded video, sent as a PNG to the app's ``POST /api/search`` (in
process, through FastAPI's test client) with the run's own model, and the first result's identity
is compared with the track's. Prints the top-1 rate, the top-5 rate and the median answer time.
Issue 15's target: top-1 >= 80 % on a demo run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", required=True, help="a run's output directory (tracks.sqlite)")
    parser.add_argument("--reid", help="part-feature model (default: the one the run recorded)")
    arguments = parser.parse_args()

    from fastapi.testclient import TestClient

    from pipeline.extraction import cut_crop
    from pipeline.web.__main__ import load_search_extractor
    from pipeline.web.app import WebSettings, create_app
    from pipeline.web.store import recorded_model

    results = Path(arguments.results)
    model = arguments.reid or recorded_model(results)
    extractor = load_search_extractor(model)
    if extractor is None:
        print("no part-feature model: give --reid MODEL", file=sys.stderr)
        return 2
    app = create_app(WebSettings(results, extractor=extractor))
    store, frames = app.state.store, app.state.frames
    tracks = store.associated_tracks()
    top1 = top5 = 0
    times = []
    with TestClient(app) as client:
        for track in tracks:
            detected = [frame for frame, _ in store.track_sample_frames(track.camera, track.track_id, 10_000)]
            frame = detected[len(detected) // 2]
            box = next(box for box in store.frame_boxes(track.camera, frame) if box.track_id == track.track_id)
            crop = cut_crop(frames.image(track.camera, frame), np.asarray(box.box))
            png = cv2.imencode(".png", crop)[1].tobytes()
            started = time.perf_counter()
            answer = client.post("/api/search", files={"image": ("crop.png", png, "image/png")}).json()
            times.append((time.perf_counter() - started) * 1000)
            found = [result["global_id"] for result in answer["results"]]
            top1 += bool(found) and found[0] == track.global_id
            top5 += track.global_id in found[:5]
    total = len(tracks)
    print(f"{total} tracks with a global id in {results}")
    print(f"top-1: {top1}/{total} = {top1 / max(total, 1):.3f}   top-5: {top5}/{total} = {top5 / max(total, 1):.3f}   "
          f"median answer {statistics.median(times):.1f} ms")
    extractor.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
