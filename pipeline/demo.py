"""The offline demo: a synthetic world (generated once and cached) and the shipped models
(``models/``), the whole pipeline on the world's videos, and the multi-camera IDF1. ``--retrain``
(a small model trained on the world's ReID split, cached) is ``train.demo_model``'s job."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from reid.errors import UserError
from reid.log_levels import say
from pipeline.config import DemoConfig

REPOSITORY = Path(__file__).resolve().parent.parent


def cache_directory() -> Path:
    """The project's cache (``$BPSEMA_CACHE_DIR``, else ``$XDG_CACHE_HOME/bpsema``, else ``~/.cache/bpsema``)."""
    from reid.export.cache_directory import default_cache_dir

    return default_cache_dir()


def world_key(demo: DemoConfig) -> str:
    world = demo.world
    return f"world_c{world.cameras}_i{world.identities}_s{world.seconds:g}_f{world.fps:g}_seed{world.seed}"


class WorldInPreparation:
    """The demo world, ready or being generated in a background thread (its cameras rendered in worker
    processes), so that the caller loads its models meanwhile; ``wait()`` gives its directory and
    raises whatever the generation raised."""

    def __init__(self, directory: Path, generate: Callable[[], None] | None = None):
        self.directory = directory
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if generate is not None:
            self._thread = threading.Thread(target=self._run, args=(generate,), name="demo-world", daemon=True)
            self._thread.start()

    def _run(self, generate: Callable[[], None]) -> None:
        try:
            generate()
        except BaseException as error:  # handed to the waiting thread
            self._error = error

    def wait(self) -> Path:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self.directory


def start_world(demo: DemoConfig, progress: bool = True) -> WorldInPreparation:
    """The demo world directory, its generation started on first use (see ``WorldInPreparation``)."""
    from pipeline.synthetic import WorldConfig, generate_world

    directory = cache_directory() / "demo" / world_key(demo)
    if (directory / "world.json").is_file():
        return WorldInPreparation(directory)
    world = demo.world
    config = WorldConfig(
        cameras=world.cameras, identities=world.identities, seconds=world.seconds, fps=world.fps, seed=world.seed
    )
    partial = directory.with_name(directory.name + ".partial")
    if partial.exists():
        import shutil

        shutil.rmtree(partial)
    say(f"generating the demo world in {directory} (once)")

    def generate() -> None:
        # One process per camera, even beyond the cores: with 3 cameras on 2 cores, 3 processes
        # rendered the demo world in 12.1 s against 14.7 s for 2 (one of which rendered two cameras).
        generate_world(partial, config, progress=progress, workers=config.cameras)
        partial.replace(directory)

    return WorldInPreparation(directory, generate)


def ensure_world(demo: DemoConfig, progress: bool = True) -> Path:
    """The demo world directory, generated on first use."""
    return start_world(demo, progress).wait()


def _repository_path(name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else REPOSITORY / path


def runs_on_the_cpu_with_onnxruntime(backend: str) -> bool:
    """Whether a checkpoint given to ``load_extractor(backend=backend)`` would run on ONNX Runtime on
    the CPU (the one place the int8 graph is for)."""
    from reid.runtime.backend_selection import choose_backend

    if backend not in ("auto", "onnxruntime"):
        return False
    choice = choose_backend("checkpoint")
    return choice.backend == "onnxruntime" and choice.device == "cpu"


def shipped_model(demo: DemoConfig, backend: str = "auto") -> Path:
    """The part model shipped in ``models/`` (trained on the synthetic corpus, see models/README.md):
    its int8 graph (``demo.cpu_model``) where ``backend`` would run the checkpoint on ONNX Runtime on
    the CPU, else the checkpoint."""
    path = _repository_path(demo.model)
    if not path.is_file():
        raise UserError(f"the demo's part model {path} is missing; restore it from the repository "
                        "or run the demo with --retrain to train a small one on the demo world")
    if demo.cpu_model and runs_on_the_cpu_with_onnxruntime(backend):
        cpu_path = _repository_path(demo.cpu_model)
        if not cpu_path.is_file():
            raise UserError(f"the demo's CPU part model {cpu_path} is missing; restore it from the repository "
                            "or set demo.cpu_model: null to run the checkpoint")
        return cpu_path
    return path


def world_streams(world_directory: Path) -> list[tuple[str, str]]:
    from pipeline.synthetic import load_world

    try:
        world = load_world(world_directory)
    except Exception as error:
        raise UserError(f"{world_directory}: not a synthetic world ({error})") from None
    streams = []
    for camera in world.cameras:
        if not camera.video:
            raise UserError(f"{world_directory}: camera {camera.camera_id} has no video (generated without videos)")
        streams.append((f"cam{camera.camera_id}", str(world_directory / camera.video)))
    return streams
