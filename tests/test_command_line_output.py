"""What a run prints: no library INFO blocks by default, --verbose shows them, --quiet only the results,
and no progress bar lines when the output is not a terminal."""

import subprocess
import sys

import pytest

from tests.conftest import REPOSITORY_ROOT, save_tiny_checkpoint


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from pipeline.synthetic import WorldConfig, generate_world

    directory = tmp_path_factory.mktemp("world") / "w"
    generate_world(directory, WorldConfig(cameras=2, identities=5, seconds=4, fps=5, seed=11), progress=False)
    return directory


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("model"))


def run(world, checkpoint, output, *flags):
    completed = subprocess.run(
        [sys.executable, "run_pipeline.py", "--world", str(world), "--reid", str(checkpoint), "--output", str(output),
         "--detector", "detections", *flags],
        capture_output=True, text=True, cwd=REPOSITORY_ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout + completed.stderr


def test_default_output_has_our_lines_and_no_library_info_or_bars(world, checkpoint, tmp_path):
    printed = run(world, checkpoint, tmp_path / "a")
    assert "detector: public detections" in printed and "multi-camera IDF1" in printed
    assert "det_thresh=" not in printed  # BoxMOT's INFO block per camera (e.g. "INFO BotSort: det_thresh=...")
    assert "it/s" not in printed and "step/s" not in printed  # piped: no progress bar


def test_verbose_shows_the_libraries_info_and_quiet_only_the_results(world, checkpoint, tmp_path):
    assert "det_thresh=" in run(world, checkpoint, tmp_path / "b", "--verbose")
    quiet = run(world, checkpoint, tmp_path / "c", "--quiet")
    assert "multi-camera IDF1" in quiet and "stage      |  seconds" in quiet
    assert "detector:" not in quiet and "association:" not in quiet and "part-feature extractor" not in quiet


def test_quiet_and_verbose_together_is_one_line_and_exit_code_2():
    completed = subprocess.run([sys.executable, "run_pipeline.py", "--demo", "--quiet", "--verbose"],
                               capture_output=True, text=True, cwd=REPOSITORY_ROOT)
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == ["error: --quiet and --verbose exclude each other"]
