"""The project installs and runs as the README says."""

import re
import subprocess
import sys

from tests.conftest import REPOSITORY_ROOT


def test_packages_import_in_a_fresh_interpreter():
    completed = subprocess.run(
        [sys.executable, "-c", "import reid, train, pipeline; print(reid.PartFeatures.__name__)"],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "PartFeatures"


def _quick_start_commands() -> list[str]:
    readme = (REPOSITORY_ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def test_readme_quick_start_has_two_commands_and_ci_runs_them():
    commands = _quick_start_commands()
    assert len(commands) == 2, commands
    ci_script = (REPOSITORY_ROOT / ".ci" / "run").read_text()
    for command in commands:
        assert command in ci_script


def test_selfcheck_command_runs():
    completed = subprocess.run(
        [sys.executable, "run_pipeline.py", "--selfcheck"], capture_output=True, text=True, cwd=REPOSITORY_ROOT
    )
    assert completed.returncode == 0, completed.stderr
    assert "self-check passed" in completed.stdout
    assert "embeddings: (8, 9, 256)" in completed.stdout
