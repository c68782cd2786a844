"""The demo world is generated in a background thread while the models load: ``start_world`` returns at
once, ``wait()`` gives the directory (or raises what the generation raised), a cached world starts no
thread; and the cache path is found without importing PyTorch (it decides whether to generate)."""

import subprocess
import sys
import threading

import pytest

from tests.conftest import REPOSITORY_ROOT


def _tiny_demo():
    from pipeline.config import DemoConfig, DemoWorldConfig

    return DemoConfig(world=DemoWorldConfig(cameras=2, identities=4, seconds=1, fps=5, seed=11))


def test_the_world_renders_in_the_background_and_wait_gives_its_directory(monkeypatch, tmp_path):
    import pipeline.synthetic
    from pipeline.demo import start_world

    monkeypatch.setenv("BPSEMA_CACHE_DIR", str(tmp_path))
    release = threading.Event()
    calls = []

    def slow_generate(out, config, progress=True, workers=1):
        assert release.wait(10), "start_world waited for the generation instead of returning"
        calls.append((config.cameras, workers))
        out.mkdir(parents=True)
        (out / "world.json").write_text("{}")

    monkeypatch.setattr(pipeline.synthetic, "generate_world", slow_generate)
    preparation = start_world(_tiny_demo(), progress=False)
    assert not (preparation.directory / "world.json").exists()  # still rendering: start_world did not block
    release.set()
    directory = preparation.wait()
    assert (directory / "world.json").is_file()
    assert not directory.with_name(directory.name + ".partial").exists()  # moved into place when complete
    assert calls == [(2, 2)]  # one process per camera

    monkeypatch.setattr(pipeline.synthetic, "generate_world", lambda *a, **k: pytest.fail("regenerated"))
    cached = start_world(_tiny_demo(), progress=False)
    assert cached.wait() == directory


def test_a_failed_generation_is_raised_by_wait_and_leaves_no_world(monkeypatch, tmp_path):
    import pipeline.synthetic
    from pipeline.demo import start_world

    monkeypatch.setenv("BPSEMA_CACHE_DIR", str(tmp_path))

    def broken(out, config, progress=True, workers=1):
        out.mkdir(parents=True)
        raise OSError("disk full")

    monkeypatch.setattr(pipeline.synthetic, "generate_world", broken)
    preparation = start_world(_tiny_demo(), progress=False)
    with pytest.raises(OSError, match="disk full"):
        preparation.wait()
    assert not (preparation.directory / "world.json").exists()


def test_a_real_world_generated_in_the_background_loads(monkeypatch, tmp_path):
    from pipeline.demo import start_world, world_streams

    monkeypatch.setenv("BPSEMA_CACHE_DIR", str(tmp_path))
    directory = start_world(_tiny_demo(), progress=False).wait()
    streams = world_streams(directory)
    assert [camera for camera, _ in streams] == ["cam1", "cam2"]
    assert all((directory / "videos" / f"{camera}.mp4").is_file() for camera, _ in streams)


def test_the_cache_path_is_found_without_importing_torch():
    code = ("import sys; from pipeline.demo import cache_directory; cache_directory(); "
            "print('torch' in sys.modules)")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPOSITORY_ROOT)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "False"


def test_the_export_package_still_gives_every_name_it_lists():
    import reid.export

    for name in reid.export.__all__:
        assert getattr(reid.export, name) is not None
