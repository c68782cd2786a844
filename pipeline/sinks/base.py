"""What every sink shares: the ``Sink`` interface, ``SinkGroup``, ``SinkSettings`` and output paths
(see ``pipeline.sinks`` for the calls and the files)."""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from pipeline.records import IdentityEvent, TrackBox, TrackKey, TrackletSnapshot
from reid.errors import UserError


class Sink(abc.ABC):
    """One destination for pipeline results (see the module docstring for the call order)."""

    @abc.abstractmethod
    def write_step(
        self,
        boxes: list[TrackBox],
        events: list[IdentityEvent],
        frames: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Record one pipeline time step.

        boxes: the tracked boxes of all cameras in this step, with the global ids known now;
        events: identity events raised in this step; frames: BGR uint8 images [H, W, 3] by camera
        (only the video sink uses them).
        """

    def write_tracklets(self, tracklets: list[TrackletSnapshot]) -> None:
        """Record tracks' part memories (only the SQLite sink keeps them)."""

    def finalize(self, identities: dict[TrackKey, int], added_boxes: Sequence[TrackBox] = ()) -> None:
        """Apply the final track -> global id map (offline refinement may have changed ids).

        Tracks absent from the map keep the global id they had online. ``added_boxes``: boxes that
        were not written online but belong to the run's final record (gap filling after the run,
        ``TrackBox.interpolated``); their id too comes from the map. After ``finalize`` every
        output of the sink agrees on each box's final id.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and release everything; safe to call more than once and after errors."""

    def __enter__(self) -> "Sink":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class SinkGroup(Sink):
    """Several sinks behind one: each call goes to every sink, even when an earlier one fails.

    The first exception is re-raised after all sinks have had the call, so one broken sink
    (a full disk for the video) never stops the others from recording or closing.
    """

    def __init__(self, sinks: Sequence[Sink]):
        self.sinks = list(sinks)

    def _each(self, method: str, *arguments) -> None:
        first_error: BaseException | None = None
        for sink in self.sinks:
            try:
                getattr(sink, method)(*arguments)
            except BaseException as error:  # noqa: BLE001 - re-raised below, after the others ran
                if first_error is None:
                    first_error = error
        if first_error is not None:
            raise first_error

    def write_step(self, boxes, events, frames=None) -> None:
        self._each("write_step", boxes, events, frames)

    def write_tracklets(self, tracklets) -> None:
        self._each("write_tracklets", tracklets)

    def finalize(self, identities, added_boxes=()) -> None:
        self._each("finalize", identities, added_boxes)

    def close(self) -> None:
        self._each("close")


FOREGROUND_NAME = "foreground"


@dataclass(frozen=True)
class SinkSettings:
    """Which sinks are on, and what the video sink needs to draw.

    video_fps: frames per second by camera (cameras absent use ``default_video_fps``);
    video_size: output (width, height) in pixels by camera (absent: the size of the first frame;
    frames of another size are resized). num_parts: K body parts; part_names: their K names
    (the foreground, index 0 of the visibility vector, is implicit). Give either or both.
    video_sources: the recorded video file of each camera that has one (camera -> path; empty for
    live runs): the video sink renders those cameras after the run from the file, with the final ids
    (the SQLite store records them for the web app's frames). run_metadata: facts about the run the
    SQLite store keeps in its ``metadata`` table (``reid_model``: the part-feature model).
    video_render_threads: how many recorded cameras' videos are rendered at once after the run
    (OpenCV decodes, draws and encodes outside Python's lock; None: twice the usable cores).
    """

    mot: bool = True
    events: bool = True
    sqlite: bool = True
    video: bool = False
    video_fps: Mapping[str, float] = field(default_factory=dict)
    default_video_fps: float = 25.0
    video_size: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    num_parts: int | None = None
    part_names: tuple[str, ...] = ()
    video_sources: Mapping[str, str] = field(default_factory=dict)
    run_metadata: Mapping[str, str] = field(default_factory=dict)
    video_render_threads: int | None = None  # recorded cameras rendered side by side (None: twice the usable cores)

    def __post_init__(self) -> None:
        names = tuple(str(name) for name in self.part_names)
        num_parts = len(names) if self.num_parts is None else int(self.num_parts)
        if num_parts < 0:
            raise ValueError(f"num_parts must be >= 0, got {num_parts}")
        if names and len(names) != num_parts:
            raise ValueError(f"num_parts={num_parts} but {len(names)} part names were given: {names}")
        if not names:
            names = tuple(f"part{index}" for index in range(1, num_parts + 1))
        object.__setattr__(self, "num_parts", num_parts)
        object.__setattr__(self, "part_names", names)
        sources = {str(camera): str(path) for camera, path in dict(self.video_sources).items()}
        object.__setattr__(self, "video_sources", sources)
        for camera, fps in {"default": self.default_video_fps, **dict(self.video_fps)}.items():
            if not float(fps) > 0:
                raise ValueError(f"video fps must be > 0, got {fps} for {camera}")
        for camera, size in dict(self.video_size).items():
            if len(size) != 2 or min(int(value) for value in size) <= 0:
                raise ValueError(f"video size must be (width, height) > 0, got {size} for {camera}")

    @property
    def visibility_names(self) -> tuple[str, ...]:
        """The 1+K names of a visibility vector: foreground, then the body parts."""
        return (FOREGROUND_NAME, *self.part_names)

    def fps_for(self, camera: str) -> float:
        return float(self.video_fps.get(camera, self.default_video_fps))

    def source_for(self, camera: str) -> str | None:
        """The recorded video file of ``camera``, None for a live camera."""
        return self.video_sources.get(camera)

    def size_for(self, camera: str) -> tuple[int, int] | None:
        size = self.video_size.get(camera)
        return None if size is None else (int(size[0]), int(size[1]))


def ensure_output_directory(path: str | Path) -> Path:
    """Create ``path`` (and parents) if needed; a file in the way or no permission is a ``UserError``."""
    directory = Path(path)
    if directory.exists() and not directory.is_dir():
        raise UserError(f"output directory {directory} is a file, not a directory: choose another path")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"cannot create output directory {directory}: a file is in the way") from None
    except OSError as error:
        raise UserError(f"cannot create output directory {directory}: {error.strerror or error}") from None
    return directory


_CAMERA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def camera_file_stem(camera: str) -> str:
    """The camera name as a file name stem (``cam1`` -> ``cam1.txt``); anything unsafe is a ``UserError``."""
    if not isinstance(camera, str) or not _CAMERA_NAME.fullmatch(camera):
        raise UserError(
            f"camera name {camera!r} cannot be used as a file name: use letters, digits, '_', '-', '.'"
        )
    return camera
