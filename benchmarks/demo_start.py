"""The demo's first-run start-up, as before 2026-12-07 against now (world rendered while the models load).

    python benchmarks/demo_start.py [--rounds 2]

Each variant is a fresh process on an empty cache (a temporary ``BPSEMA_CACHE_DIR``) that renders the
demo world, imports PyTorch and BoxMOT (``pipeline.runner``) and exports the shipped detector to ONNX
(``pipeline.detection.prepare_detector``): as before 2026-12-07 (PyTorch imported first, the world in
one process per core, then the rest), one after the other with one process per camera, and as
``run_pipeline.py --demo`` does it now (the world in a background thread while the rest loads). The
wall seconds from the process's start until all is ready are printed, the median of alternated
rounds, side by side.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))  # runnable from a checkout without installing it

from benchmarks.rounds import alternated_rounds  # noqa: E402

# Before 2026-12-07: PyTorch imported first (the cache path came from reid.export, which imported it),
# the world rendered in one process per core, then the detector exported when the run started.
_WORLD_AS_BEFORE = """
import reid.export, torch
from pipeline.config import load_pipeline_config
from pipeline.demo import cache_directory, world_key
from pipeline.synthetic import WorldConfig, generate_world
from reid.cpu_cores import cpu_core_count
config = load_pipeline_config("configs/pipeline/demo.yaml")
world = config.demo.world
directory = cache_directory() / "demo" / world_key(config.demo)
generate_world(directory, WorldConfig(cameras=world.cameras, identities=world.identities, seconds=world.seconds,
               fps=world.fps, seed=world.seed), progress=False, workers=cpu_core_count())
"""
_MODELS = """
import pipeline.runner
from pipeline.detection import prepare_detector
prepare_detector(config.detector)
"""
START_UP = {
    "before (one after the other, a process per core)": _WORLD_AS_BEFORE + _MODELS,
    "one after the other, a process per camera": """
from pipeline.config import load_pipeline_config
from pipeline.demo import ensure_world
config = load_pipeline_config("configs/pipeline/demo.yaml")
ensure_world(config.demo, progress=False)
""" + _MODELS,
    "now (world in the background, a process per camera)": """
from pipeline.config import load_pipeline_config
from pipeline.demo import start_world
config = load_pipeline_config("configs/pipeline/demo.yaml")
world = start_world(config.demo, progress=False)
""" + _MODELS + """
world.wait()
""",
}
BASELINE = next(iter(START_UP))


def timed_start(variant: str) -> float:
    """Wall seconds of one fresh process doing the variant's start-up on an empty cache."""
    with tempfile.TemporaryDirectory() as cache:
        environment = dict(os.environ, BPSEMA_CACHE_DIR=cache)
        code = "from reid.log_levels import set_verbosity; set_verbosity('quiet')\n" + START_UP[variant]
        started = time.perf_counter()
        completed = subprocess.run([sys.executable, "-c", code], cwd=REPOSITORY, env=environment,
                                   capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if completed.returncode != 0:
            raise RuntimeError(f"{variant} failed:\n{completed.stderr}")
        if not any(Path(cache, "demo").glob("*/world.json")) or not any(Path(cache, "detector").rglob("*.onnx")):
            raise RuntimeError(f"{variant} left no world or no detector graph in the cache")
        return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="alternated rounds; the median is printed")
    arguments = parser.parse_args()
    if arguments.rounds < 1:
        print("error: --rounds must be at least 1", file=sys.stderr)
        return 2
    seconds = alternated_rounds(START_UP, arguments.rounds, timed_start)
    baseline = statistics.median(seconds[BASELINE])
    for variant, values in seconds.items():
        median = statistics.median(values)
        runs = ", ".join(f"{value:.1f}" for value in values)
        print(f"{variant:<52} {median:6.1f} s  {baseline / median:4.2f}x  (runs: {runs})")
    print(f"start-up of a first demo run (world + detector export + imports), {arguments.rounds} alternated rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
