"""Rendering one camera frame: static scene + people painted far-to-near with occlusion, then effects.

Besides the image, every frame carries a label map (which person owns each pixel) and, per person
in view, the amodal box, the visible fraction of the body and the 17 keypoints. Everything the
ground truth, detections, ReID crops and part labels say comes from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.synthetic.articulated_body import gait_phase, pose_joints
from pipeline.synthetic.background import render_static_scene
from pipeline.synthetic.camera_effects import CameraEffectsApplier, camera_effects_for
from pipeline.synthetic.person_sprite import PersonSprite, render_person_sprite
from pipeline.synthetic.site_layout import NEAR_DEPTH
from pipeline.synthetic.world_plan import WorldPlan

BACKGROUND_LABEL = 0
OCCLUDER_LABEL = -1
MIN_DEPTH = NEAR_DEPTH + 1.0
MAX_DEPTH = 60.0
# A person gets a ground-truth row only while at least this much of its amodal box is in the frame.
MIN_BOX_FRACTION_IN_FRAME = 0.3


@dataclass(frozen=True)
class PersonObservation:
    person_id: int
    box: tuple[int, int, int, int]  # amodal box clipped to the frame: x, y, w, h (pixels)
    amodal_box: tuple[int, int, int, int]  # full silhouette box, may leave the frame
    visible_box: tuple[int, int, int, int] | None  # box of the visible pixels
    visibility: float  # visible body pixels / all body pixels (leaving the frame counts as hidden)
    visible_pixels: int
    body_pixels: int
    depth: float
    keypoints: np.ndarray  # [17, 2] frame coordinates, COCO order

    @property
    def truncated(self) -> bool:
        return self.box != self.amodal_box


@dataclass(frozen=True)
class RenderedFrame:
    camera_id: int
    frame: int  # 1-based
    image: np.ndarray  # [H, W, 3] uint8 BGR, camera effects applied
    labels: np.ndarray  # [H, W] int16: person id, 0 background, -1 static occluder
    observations: tuple[PersonObservation, ...]


def _bbox_of(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


class CameraRenderer:
    """Renders the frames of one camera of a planned world; frames can be asked for in any order."""

    def __init__(self, plan: WorldPlan, camera_id: int):
        self.plan = plan
        self.camera = plan.layout.cameras[camera_id - 1]
        self.camera_id = camera_id
        self.static = render_static_scene(
            self.camera, plan.layout.zone_x[camera_id - 1], list(plan.occluders[camera_id]), plan.config.seed
        )
        self.effects = CameraEffectsApplier(
            camera_effects_for(camera_id), self.camera.width, self.camera.height, plan.config.seed, camera_id
        )
        covered = np.isfinite(self.static.occluder_depth)
        self._static_labels = np.where(covered, OCCLUDER_LABEL, BACKGROUND_LABEL).astype(np.int16)
        motion = plan.motion
        lateral, depth = self.camera.ground_to_camera(motion.positions)
        image_x = self.camera.width / 2 + self.camera.focal * lateral / np.maximum(depth, 1e-6)
        margin = self.camera.width * 0.5
        self._in_view = (
            motion.active
            & (depth > MIN_DEPTH)
            & (depth < MAX_DEPTH)
            & (image_x > -margin)
            & (image_x < self.camera.width + margin)
        )

    def people_in_view(self, frame: int) -> np.ndarray:
        """Row indices (into the plan's motion table) of people near or inside the view at ``frame``."""
        return np.flatnonzero(self._in_view[:, frame - 1])

    def _sprite(self, row: int, frame: int) -> PersonSprite | None:
        motion = self.plan.motion
        identity = self.plan.identities[row]
        t = frame - 1
        amplitude = 1.0 if motion.moving[row, t] else 0.0
        joints = pose_joints(identity.body, gait_phase(identity.body, motion.walked[row, t]), amplitude)
        return render_person_sprite(identity, joints, self.camera, motion.positions[row, t], motion.headings[row, t])

    def render(
        self, frame: int, only: set[int] | None = None, static_occluders: bool = True, effects: bool = True
    ) -> RenderedFrame:
        """Render 1-based ``frame``. ``only`` keeps just those person ids; ``static_occluders=False``
        paints people over the occluders (both are for checks: the plain call is what gets written)."""
        width, height = self.camera.width, self.camera.height
        image = self.static.image.copy()
        if static_occluders:
            occluder_depth = self.static.occluder_depth
            labels = self._static_labels.copy()
        else:
            occluder_depth = np.full((height, width), np.inf, dtype=np.float32)
            labels = np.zeros((height, width), dtype=np.int16)
        person_ids = self.plan.motion.person_ids
        rows = [r for r in self.people_in_view(frame) if only is None or int(person_ids[r]) in only]
        sprites = [(int(person_ids[r]), s) for r in rows if (s := self._sprite(r, frame)) is not None]
        sprites.sort(key=lambda item: -item[1].depth)

        self._paint_shadows(image, occluder_depth, [s for _, s in sprites])
        placed = []
        for person_id, sprite in sprites:
            x0, y0 = sprite.origin
            sh, sw = sprite.pixels.shape[:2]
            fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + sw, width), min(y0 + sh, height)
            body = sprite.mask
            body_pixels = int(body.sum())
            amodal = _bbox_of(body)
            if amodal is None or body_pixels == 0:
                continue
            amodal = (amodal[0] + x0, amodal[1] + y0, amodal[2], amodal[3])
            if fx0 < fx1 and fy0 < fy1:
                local = body[fy0 - y0: fy1 - y0, fx0 - x0: fx1 - x0]
                in_front = local & (occluder_depth[fy0:fy1, fx0:fx1] > sprite.depth)
                image[fy0:fy1, fx0:fx1][in_front] = sprite.pixels[fy0 - y0: fy1 - y0, fx0 - x0: fx1 - x0, :3][in_front]
                labels[fy0:fy1, fx0:fx1][in_front] = person_id
            placed.append((person_id, sprite, amodal, body_pixels))

        observations = self._observe(labels, placed)
        if effects:
            image = self.effects.apply(image, frame)
        return RenderedFrame(self.camera_id, frame, image, labels, tuple(observations))

    def _paint_shadows(self, image: np.ndarray, occluder_depth: np.ndarray, sprites: list[PersonSprite]) -> None:
        height, width = image.shape[:2]
        for sprite in sprites:
            s = sprite.pixels_per_metre
            axes = (max(2, int(0.35 * s)), max(1, int(0.09 * s)))
            cx, cy = int(round(sprite.foot[0] + 0.1 * s)), int(round(sprite.foot[1]))
            x0, x1 = max(cx - axes[0], 0), min(cx + axes[0] + 1, width)
            y0, y1 = max(cy - axes[1], 0), min(cy + axes[1] + 1, height)
            if x0 >= x1 or y0 >= y1:
                continue
            stamp = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
            cv2.ellipse(stamp, (cx - x0, cy - y0), axes, 0, 0, 360, 1, -1)
            region = image[y0:y1, x0:x1]
            shade = (stamp > 0) & (occluder_depth[y0:y1, x0:x1] > sprite.depth)
            region[shade] = (region[shade] * 0.62).astype(np.uint8)

    def _observe(self, labels: np.ndarray, placed) -> list[PersonObservation]:
        width, height = self.camera.width, self.camera.height
        observations = []
        for person_id, sprite, amodal, body_pixels in placed:
            ax, ay, aw, ah = amodal
            x0, y0 = max(ax, 0), max(ay, 0)
            x1, y1 = min(ax + aw, width), min(ay + ah, height)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            if (x1 - x0) * (y1 - y0) < MIN_BOX_FRACTION_IN_FRAME * aw * ah:
                continue
            visible_mask = labels[y0:y1, x0:x1] == person_id
            visible_pixels = int(visible_mask.sum())
            visible_box = _bbox_of(visible_mask)
            if visible_box is not None:
                visible_box = (visible_box[0] + x0, visible_box[1] + y0, visible_box[2], visible_box[3])
            observations.append(
                PersonObservation(
                    person_id=person_id,
                    box=(x0, y0, x1 - x0, y1 - y0),
                    amodal_box=amodal,
                    visible_box=visible_box,
                    visibility=visible_pixels / body_pixels,
                    visible_pixels=visible_pixels,
                    body_pixels=body_pixels,
                    depth=sprite.depth,
                    keypoints=sprite.keypoints,
                )
            )
        observations.sort(key=lambda o: o.person_id)
        return observations
