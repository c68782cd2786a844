"""The one step loop of a run, whichever runner places its stages.

    sources -> detect -> (cut crops, extract) -> track -> associate -> sinks,   one summary

``drive`` owns what every run does around a step: stop after ``max_steps`` or on ``stop_requested``,
count frames per camera, the progress bar, the live status line and the web view's reports, then
``finish`` the association and build the ``RunSummary``. A ``StepExecutor`` runs one step where its
runner puts the stages: ``pipeline.runner`` in this process, ``pipeline.ray_runner`` on Ray actors.
Whether a step extracts part features is decided here (``StepPolicy``), for both.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Protocol

from reid.log_levels import say
from reid.progress import progress_bar

from pipeline.config import PipelineConfig
from pipeline.live_status import LiveCameraStatus, format_status_line
from pipeline.stages import STAGES, AssociationOutcome
from pipeline.tracking import APPEARANCE_TRACKERS

VIEW_REPORT_EVERY_S = 0.5  # how often the web app's live view hears the cameras' health


@dataclass
class RunSummary:
    """What a run did: frames read, tracks and identities found, and the seconds per stage."""

    output_dir: Path
    cameras: list[str]
    frames_per_camera: dict[str, int]
    steps: int
    seconds: float
    stage_seconds: dict[str, float]
    tracks: int
    identities: int
    crops: int
    extractor: str = ""
    tracks_split: int = 0  # cuts where a track's appearance changed (each adds one track)
    notes: list[str] = field(default_factory=list)

    def _split_clause(self) -> str:
        return f" ({self.tracks_split} of them from splits where the appearance changed)" if self.tracks_split else ""

    def table(self) -> str:
        total = max(self.seconds, 1e-9)
        lines = [
            f"{self.steps} steps, {sum(self.frames_per_camera.values())} frames from {len(self.cameras)} cameras in "
            f"{self.seconds:.1f} s; {self.tracks} tracks{self._split_clause()} -> {self.identities} global identities; "
            f"{self.crops} crops",
            "  stage      |  seconds | share",
        ]
        for stage in STAGES:
            seconds = self.stage_seconds.get(stage, 0.0)
            lines.append(f"  {stage:<10} | {seconds:8.2f} | {100 * seconds / total:4.1f}%")
        per_camera = ", ".join(
            f"{camera} {count / total:.1f} fps" for camera, count in self.frames_per_camera.items()
        )
        lines.append(f"  frames/s per camera: {per_camera}")
        lines.extend(f"  {note}" for note in self.notes)
        return "\n".join(lines)


@dataclass(frozen=True)
class StepPolicy:
    """Which steps run and which extract part features.

    every_n_frames: features every n-th step (appearance trackers need them at every step);
    max_steps: None for no limit; stop_requested: set it to end the run after the current step.
    """

    every_n_frames: int = 1
    appearance: bool = False
    max_steps: int | None = None
    stop_requested: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def for_config(cls, config: PipelineConfig, max_steps: int | None, stop_requested: threading.Event) -> "StepPolicy":
        return cls(max(1, config.extractor.every_n_frames), config.tracker.name in APPEARANCE_TRACKERS,
                   max_steps, stop_requested)

    def allowed(self, step: int) -> bool:
        """Whether step ``step`` (0-based) may still start."""
        return (self.max_steps is None or step < self.max_steps) and not self.stop_requested.is_set()

    def extracts(self, step: int) -> bool:
        return self.appearance or step % self.every_n_frames == 0


@dataclass(frozen=True)
class StepDone:
    """One step a ``StepExecutor`` has run (or handed on): its index, time, and cameras."""

    step: int
    timestamp_s: float
    cameras: tuple[str, ...]


class StepExecutor(Protocol):
    """Runs the stages of one step where a runner places them.

    cameras: the opened cameras in order; live: reading live URLs; total_steps: for the progress
    bar (None when unknown); extractor_description and notes: for the summary.
    """

    cameras: list[str]
    live: bool
    total_steps: int | None
    extractor_description: str
    notes: list[str]

    def run_step(self, policy: StepPolicy) -> StepDone | None:
        """Read the next step and run (or submit) its stages; None when the sources have ended."""

    def camera_status(self) -> Mapping[str, LiveCameraStatus]:
        """The live cameras' health (empty for recorded files)."""

    def identities_seen(self) -> int:
        """Global identities so far (for status lines; may lag a few steps)."""

    def finish(self, last_timestamp_s: float) -> AssociationOutcome:
        """Wait for every step handed on, end the association and write its last records."""

    def crops(self) -> int:
        """Crops cut for part features so far."""

    def stage_seconds(self) -> dict[str, float]:
        """Seconds per stage (``pipeline.stages.STAGES``)."""


def drive(
    executor: StepExecutor,
    policy: StepPolicy,
    output_dir: Path,
    started_run: float,
    progress: bool = True,
    progress_label: str = "pipeline",
    status_every_s: float = 0.0,
    live_view=None,
) -> RunSummary:
    """Run every step of ``executor`` under ``policy`` and summarise the run.

    status_every_s: a status line on stderr this often during a live run (0: never); live_view: the
    web app's ``pipeline.web.live.LiveView`` (told the cameras' health and the identity count).
    started_run: ``time.perf_counter()`` when the run began (its start-up counts in the summary).
    """
    frames_per_camera = {camera: 0 for camera in executor.cameras}
    steps, last_timestamp = 0, 0.0
    next_status = time.monotonic() + status_every_s
    next_view_report = 0.0
    bar = progress_bar(total=executor.total_steps, desc=progress_label, unit="step",
                       enabled=progress and not executor.live)
    while policy.allowed(steps):
        done = executor.run_step(policy)
        if done is None:
            break
        for camera in done.cameras:
            frames_per_camera[camera] += 1
        last_timestamp = done.timestamp_s
        steps += 1
        bar.update(1)
        now = time.monotonic()
        if live_view is not None and now >= next_view_report:
            next_view_report = now + VIEW_REPORT_EVERY_S
            live_view.report(executor.camera_status(), executor.identities_seen())
        if executor.live and status_every_s > 0 and now >= next_status:
            next_status = now + status_every_s
            say(format_status_line(executor.camera_status(), executor.identities_seen()), error_stream=True)
    bar.close()

    outcome = executor.finish(last_timestamp)
    if live_view is not None:
        live_view.report(executor.camera_status(), outcome.identities, running=False)
    return RunSummary(
        output_dir=output_dir,
        cameras=list(executor.cameras),
        frames_per_camera=frames_per_camera,
        steps=steps,
        seconds=time.perf_counter() - started_run,
        stage_seconds=executor.stage_seconds(),
        tracks=outcome.tracks,
        identities=outcome.identities,
        tracks_split=outcome.tracks_split,
        crops=executor.crops(),
        extractor=executor.extractor_description,
        notes=list(executor.notes),
    )
