"""The web app's answer times on a large store, over real HTTP (uvicorn on 127.0.0.1), side by side.

    python benchmarks/web.py                      # 10k tracklets (issue 15's size)
    python benchmarks/web.py --tracklets 1000 10000 50000 --repeats 30

A synthetic store is written through the pipeline's own ``SqliteSink`` (no rendering): tracklets of
3,000 frames' worth of boxes spread over 8 cameras, each with 20 boxes, a 64x128 thumbnail and a
part memory of 1+K = 9 embeddings of D = 256 (the shipped model's shape), one identity per 3
tracklets. Then the app (``pipeline.web.app``) is served by uvicorn with the shipped part model for
search, and each request is timed from the client (median and p95 of ``--repeats``):

- ``GET /api/identities``: the first page, a deep page, sorted by last time descending (50 per page);
- ``GET /api/identities/{id}``: one identity with its tracks and sample frames;
- ``POST /api/search``: a 64x128 PNG crop: decoding, the model (ONNX Runtime or PyTorch on the CPU),
  the visible-part distance against every tracklet, the ranking (the first search, which reads the
  gallery from the store, is reported apart).

Targets (issue 15): identities <= 200 ms and search <= 300 ms at 10k tracklets.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import cv2
import numpy as np

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from pipeline.records import TrackBox, TrackKey, TrackletSnapshot  # noqa: E402
from pipeline.sinks.sqlite_sink import SqliteSink  # noqa: E402

SHIPPED_MODEL = REPOSITORY / "models" / "bpsema_small_synthetic.pt"
PARTS = ("foreground", "head", "left_arm", "right_arm", "torso", "left_leg", "right_leg", "left_feet", "right_feet")
EMBEDDING_DIM = 256
CAMERAS = [f"cam{index}" for index in range(1, 9)]
BOXES_PER_TRACKLET = 20
TRACKLETS_PER_IDENTITY = 3


def write_store(directory: Path, tracklets: int, seed: int = 0) -> Path:
    """``directory/tracks.sqlite`` with ``tracklets`` tracks (see the module docstring)."""
    random = np.random.default_rng(seed)
    sink = SqliteSink(directory / "tracks.sqlite", CAMERAS, PARTS, metadata={"reid_model": str(SHIPPED_MODEL)})
    frame_image = random.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    batch = 500
    for start in range(0, tracklets, batch):
        boxes, snapshots, frames = [], [], {}
        for index in range(start, min(start + batch, tracklets)):
            camera = CAMERAS[index % len(CAMERAS)]
            first = int(random.integers(1, 3000))
            global_id = index // TRACKLETS_PER_IDENTITY + 1
            x, y = float(random.integers(0, 1200)), float(random.integers(0, 580))
            for offset in range(BOXES_PER_TRACKLET):
                visibility = tuple(bool(value) for value in random.random(len(PARTS)) < 0.8)
                boxes.append(TrackBox(camera, first + offset, (first + offset) / 10, index, (x, y, x + 64, y + 128),
                                      float(random.random()), visibility, global_id))
            embeddings = random.standard_normal((len(PARTS), EMBEDDING_DIM)).astype(np.float32)
            embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
            counts = random.integers(0, BOXES_PER_TRACKLET, len(PARTS))
            counts[0] = BOXES_PER_TRACKLET
            snapshots.append(TrackletSnapshot(TrackKey(camera, index), embeddings, counts, first / 10,
                                              (first + BOXES_PER_TRACKLET) / 10, first, first + BOXES_PER_TRACKLET,
                                              global_id))
        # One frame per camera per batch: every box of the batch is cropped from it (thumbnails).
        for camera in CAMERAS:
            frames[camera] = frame_image
        sink.write_step(boxes, [], frames)
        sink.write_tracklets(snapshots)
    sink.finalize({})
    sink.close()
    return directory


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _timed(request) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
        assert response.status == 200
    return (time.perf_counter() - started) * 1000


def _multipart(url: str, image: bytes) -> urllib.request.Request:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"crop.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + image + f"\r\n--{boundary}--\r\n".encode()
    return urllib.request.Request(url, data=body, method="POST",
                                  headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


def _summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"{statistics.median(ordered):8.1f} {p95:8.1f}"


def measure(tracklets: int, repeats: int) -> list[tuple[str, str]]:
    from pipeline.web.__main__ import load_search_extractor
    from pipeline.web.app import WebSettings, create_app
    from pipeline.web.server import BackgroundServer

    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        write_store(Path(directory), tracklets)
        print(f"  store of {tracklets} tracklets written in {time.perf_counter() - started:.1f} s "
              f"({(Path(directory) / 'tracks.sqlite').stat().st_size / 1e6:.0f} MB)", flush=True)
        extractor = load_search_extractor(str(SHIPPED_MODEL))
        port = _free_port()
        server = BackgroundServer(create_app(WebSettings(Path(directory), extractor=extractor)), "127.0.0.1", port)
        server.start()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                _timed(f"{base}/api/run")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        identities = tracklets // TRACKLETS_PER_IDENTITY
        crop = cv2.imencode(".png", np.random.default_rng(1).integers(0, 255, (128, 64, 3), dtype=np.uint8))[1].tobytes()
        rows = []
        try:
            first_search = _timed(_multipart(f"{base}/api/search", crop))
            requests = {
                "GET /api/identities (page 1)": lambda: f"{base}/api/identities?page=1&per_page=50",
                "GET /api/identities (deep page)": lambda: f"{base}/api/identities?page={max(1, identities // 100)}&per_page=50",
                "GET /api/identities (sort -last_time_s)": lambda: f"{base}/api/identities?per_page=50&sort=-last_time_s",
                "GET /api/identities/{id}": lambda: f"{base}/api/identities/{np.random.randint(1, identities + 1)}",
                "POST /api/search": lambda: _multipart(f"{base}/api/search", crop),
            }
            for name, request in requests.items():
                _timed(request())  # warm
                rows.append((name, _summary([_timed(request()) for _ in range(repeats)])))
            rows.append(("POST /api/search (first: reads the gallery)", f"{first_search:8.1f}        -"))
        finally:
            server.stop()
            extractor.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracklets", type=int, nargs="+", default=[10_000])
    parser.add_argument("--repeats", type=int, default=20)
    arguments = parser.parse_args()
    results = {}
    for size in arguments.tracklets:
        print(f"measuring {size} tracklets ...", flush=True)
        results[size] = measure(size, arguments.repeats)
    print()
    print(f"{'request':48} {'tracklets':>9} {'median ms':>9} {'p95 ms':>8}")
    for size, rows in results.items():
        for name, figures in rows:
            print(f"{name:48} {size:9d} {figures}")
    print("targets: identities <= 200 ms, search <= 300 ms at 10k tracklets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
