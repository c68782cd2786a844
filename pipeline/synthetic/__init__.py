"""Synthetic occluded multi-camera world: videos, MOT ground truth, detections, ReID sets, part labels.

Public API::

    from pipeline.synthetic import WorldConfig, generate_world, load_world
    world = generate_world("/tmp/world", WorldConfig(cameras=3, identities=40, seconds=60, fps=10, seed=0))
    world = load_world("/tmp/world")          # the same World, read from world.json

Lower level, for checks and benchmarks: ``plan_world(config) -> WorldPlan`` and
``CameraRenderer(plan, camera_id).render(frame) -> RenderedFrame`` rebuild any frame (image,
per-pixel person labels, per-person boxes, visibility and keypoints) without touching the disk.

The CLI is ``python -m pipeline.synthetic --out DIR ...``. Exports load lazily, so that
validating a configuration does not import the renderer.
"""

from __future__ import annotations

from reid.lazy_exports import lazy_exports

_EXPORTS = {
    "WorldConfig": "pipeline.synthetic.config",
    "WorldConfigError": "pipeline.synthetic.config",
    "World": "pipeline.synthetic.world_summary",
    "CameraSummary": "pipeline.synthetic.world_summary",
    "IdentitySummary": "pipeline.synthetic.world_summary",
    "TransitTime": "pipeline.synthetic.world_summary",
    "ReidDatasetSummary": "pipeline.synthetic.world_summary",
    "WorldFileError": "pipeline.synthetic.world_summary",
    "load_world": "pipeline.synthetic.world_summary",
    "generate_world": "pipeline.synthetic.world",
    "WorldOutputError": "pipeline.synthetic.output_directory",
    "WorldPlan": "pipeline.synthetic.world_plan",
    "plan_world": "pipeline.synthetic.world_plan",
    "CameraRenderer": "pipeline.synthetic.render",
    "RenderedFrame": "pipeline.synthetic.render",
    "PersonObservation": "pipeline.synthetic.render",
    "GroundTruthRow": "pipeline.synthetic.ground_truth",
    "read_ground_truth": "pipeline.synthetic.ground_truth",
    "Detection": "pipeline.synthetic.detections",
    "read_detections": "pipeline.synthetic.detections",
    "read_part_labels": "pipeline.synthetic.part_labels",
    "part_label_path": "pipeline.synthetic.part_labels",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
