"""Where the pipeline's results go: MOT text files, an events log, an SQLite database, annotated videos.

Every sink has the same four calls, made by the runner in this order::

    sink.write_step(boxes, events, frames)   # once per time step, online
    sink.write_tracklets(snapshots)          # whenever part memories are worth keeping
    sink.finalize(identity_map, added_boxes) # once, with the final track -> global id map and the
                                             # boxes filled in after the run (recorded files)
    sink.close()                             # always (also after errors and Ctrl-C); idempotent

A sink never loses what it already wrote: every step is written as a whole (or not at all), and
``close`` without ``finalize`` leaves the online identities in place.

``build_sinks(output_dir, cameras, SinkSettings(...))`` makes the enabled ones::

    OUTPUT/mot/{camera}.txt        MOTChallenge rows frame,global_id,x,y,w,h,conf,-1,-1,-1
    OUTPUT/events.jsonl            one IdentityEvent per line
    OUTPUT/tracks.sqlite           cameras, tracks, identities, boxes, tracklet_features, thumbnails
    OUTPUT/videos/{camera}.mp4     boxes coloured by global id, label, part-visibility strip (recorded
                                   files: rendered at ``finalize`` with the final ids)
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from pipeline.sinks.base import (
    FOREGROUND_NAME,
    Sink,
    SinkGroup,
    SinkSettings,
    camera_file_stem,
    ensure_output_directory,
)

__all__ = ["FOREGROUND_NAME", "Sink", "SinkGroup", "SinkSettings", "build_sinks", "camera_file_stem",
           "ensure_output_directory"]


def build_sinks(output_dir: str | Path, cameras: Sequence[str], settings: SinkSettings | None = None) -> list[Sink]:
    """The sinks enabled in ``settings``, writing under ``output_dir`` (created if needed).

    cameras: every camera name of the run, so that a camera that never sees anybody still gets
    its (empty) MOT file. A sink that fails to start closes the ones already made.
    """
    settings = settings or SinkSettings()
    directory = ensure_output_directory(output_dir)
    cameras = [camera_file_stem(camera) for camera in cameras]
    sinks: list[Sink] = []
    try:
        if settings.mot:
            from pipeline.sinks.mot_sink import MotSink

            sinks.append(MotSink(directory / "mot", cameras))
        if settings.events:
            from pipeline.sinks.events_sink import EventsSink

            sinks.append(EventsSink(directory / "events.jsonl"))
        if settings.sqlite:
            from pipeline.sinks.sqlite_sink import SqliteSink

            sinks.append(SqliteSink(directory / "tracks.sqlite", cameras, settings.visibility_names,
                                    settings.video_sources, settings.run_metadata))
        if settings.video:
            from pipeline.sinks.video_sink import VideoSink

            sinks.append(VideoSink(directory / "videos", settings))
    except BaseException:
        for sink in sinks:
            try:
                sink.close()
            except Exception:  # noqa: BLE001 - the original error is the one to report
                pass
        raise
    return sinks
