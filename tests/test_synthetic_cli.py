"""The command line: a thin wrapper with one-line errors and exit code 2 on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.synthetic", *args],
        capture_output=True,
        text=True,
        cwd=REPOSITORY_ROOT,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--identities", "-3"], "identities"),
        (["--cameras", "0"], "cameras"),
        (["--cameras", "9"], "cameras"),
        (["--seconds", "-1"], "seconds"),
        (["--fps", "0"], "fps"),
        (["--seed", "-1"], "seed"),
        (["--identities", "many"], "identities"),
        (["--frames", "3"], "--frames"),
        (["--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_bad_numbers_give_one_line_and_exit_code_2(tmp_path, args, expected):
    result = run_cli("--out", str(tmp_path / "w"), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w").exists(), "nothing is written for a bad configuration"


def test_unusable_output_directories_give_one_line_and_exit_code_2(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a directory")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("someone else's data")
    for out in (a_file, a_file / "below", foreign):
        result = run_cli("--out", str(out), "--identities", "2", "--seconds", "2", "--fps", "2")
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in result.stderr
    assert (foreign / "keep.txt").read_text() == "someone else's data"


def test_a_small_world_from_the_command_line(tmp_path):
    out = tmp_path / "world"
    result = run_cli(
        "--out", str(out), "--cameras", "2", "--identities", "6", "--seconds", "20", "--fps", "3",
        "--seed", "4", "--width", "320", "--height", "180", "--quiet",
    )
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip().splitlines()
    assert len(summary) == 1 and summary[0].startswith(f"wrote {out}")
    world = json.loads((out / "world.json").read_text())
    assert world["config"]["seed"] == 4 and len(world["cameras"]) == 2
    for c in (1, 2):
        assert (out / "videos" / f"cam{c}.mp4").stat().st_size > 0
        assert (out / "gt" / f"cam{c}.txt").is_file() and (out / "det" / f"cam{c}.txt").is_file()
