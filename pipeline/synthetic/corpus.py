"""A large ReID training corpus rendered as person crops directly, without videos.

``python -m pipeline.synthetic.corpus --out DIR --identities 3000 --images-per-identity 16 --cameras 8 --seed S``

Every crop is drawn with the synthetic world's own pieces: identities (appearance, body shape and
the deliberate look-alikes of ``identities``: about a fifth copy another identity's upper clothing,
a fifth its lower clothing), the articulated walking body (``pose_joints`` at a random gait phase,
any heading: front, back and side views), ``render_person_sprite`` through a world-like
``Camera`` (person height drawn in 40-160 px, as in the worlds' 640x360 frames), a patch of that
camera's ``render_static_scene`` as background, a foot shadow, occluders in front (pillars,
counters, parked cars, benches, planters and signboards in the colours of ``occluders``, or
another identity walking nearer), frame truncation, and the camera's fixed look
(``camera_effects_for``: colour gains, brightness, contrast, blur, sensor noise). Like the world's
ReID crops (``reid_dataset.cut_crop``) the crop is cut by the person's jittered amodal box from
the composed image *after* occluders and camera effects, and its part labels are the 36-channel
``confidence_fields`` of the true keypoints, the person's own visible pixels and amodal height.
Visibility is visible body pixels / all body pixels (what lies outside the crop counts as hidden).

Seeds: every random choice here comes from ``random_stream(seed, "corpus_<purpose>", ...)``.
Streams are keyed by (seed, crc32(purpose), indices) through ``numpy.random.SeedSequence``; no
world purpose starts with ``corpus_`` (worlds use ``identity``, ``reid_split``, ...), so a corpus
identity is drawn from a stream no world ever uses and can never be a world identity of any seed.
The backgrounds and camera noise are the world's renderers fed with seeds drawn from
``corpus_background`` / ``corpus_camera_noise`` streams. Each image is seeded by its own
(identity, image) index, so the output is byte-identical for any ``--workers``.

Layout (what ``train.datasets.load_dataset("synthetic_occluded", DIR)`` reads, like a world)::

    DIR/reid_occluded/{bounding_box_train,query,bounding_box_test}/{pid:04d}_c{cam}_f{index:07d}.jpg
    DIR/reid_occluded/masks/pifpaf_maskrcnn_filtering/<split>/<stem>.jpg.confidence_fields.npy
    DIR/reid_occluded/annotations.csv
    DIR/corpus.json            (written last: settings, counts, seconds, crops/s)
    DIR/contact_sheet.png

Training identities go to ``bounding_box_train``. A few held-out identities form the Occluded-Duke
test split: occluded crops (visibility < 0.7) are queries, holistic crops (and a tenth of the
occluded ones) the gallery. Each held-out identity's first two images are holistic views in two
different cameras and its third is occluded, so every query has a same-identity gallery crop in
another camera. The corpus is built in ``DIR.partial`` and renamed to ``DIR`` when complete.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing
import os
import shutil
import sys
import time
import traceback
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from pipeline.synthetic.articulated_body import BodyShape, gait_phase, pose_joints
from pipeline.synthetic.background import render_static_scene
from pipeline.synthetic.camera_effects import CameraEffects, camera_effects_for
from pipeline.synthetic.command_line import OneLineErrorParser
from pipeline.synthetic.identities import Identity, sample_identities
from pipeline.synthetic.occluders import CAR_PAINT, CONCRETE, OCCLUDER_KINDS, SIGN_PAINT
from pipeline.synthetic.part_labels import (
    OCCLUDED_DUKE_MASK_SUFFIX,
    confidence_fields,
    part_label_path,
    write_part_labels,
)
from pipeline.synthetic.person_sprite import PersonSprite, render_person_sprite
from pipeline.synthetic.random_streams import random_stream
from pipeline.synthetic.reid_dataset import GALLERY, JPEG_QUALITY, OCCLUDED_BELOW, OCCLUDED_IN_GALLERY, QUERY, TRAIN
from pipeline.synthetic.site_layout import ZONE_SPACING, Camera

FRAME_WIDTH, FRAME_HEIGHT = 640, 360
MAX_CAMERAS = 8  # the Duke file-name rule has one camera digit; the world's effects table has 8 rows
PERSON_HEIGHT_PX = (40.0, 160.0)
OCCLUSION_PROBABILITY = 0.55
TRUNCATION_PROBABILITY = 0.12
BEHIND_PERSON_PROBABILITY = 0.15
MIN_VISIBILITY = 0.2
BOX_CENTRE_JITTER = 0.05  # of the box size
BOX_HEIGHT_SCALE = (0.97, 1.12)
BOX_ASPECT_SCALE = (0.92, 1.25)
NOISE_BANK_SHAPE = (2, 416, 320)
BACKGROUND_LABEL, OCCLUDER_LABEL = 0, -1
# Occluder kinds drawn in front of the person, with their weights (names as in ``occluders``).
FRONT_OCCLUDERS: dict[str, float] = {
    "other_person": 0.30,
    "pillar": 0.17,
    "parked_car": 0.13,
    "counter": 0.12,
    "bench": 0.06,
    "planter": 0.07,
    "signboard": 0.15,
}
KIND_COLOURS = {kind.name: kind.colours for kind in OCCLUDER_KINDS}
OCCLUDER_COLOURS = {**KIND_COLOURS, "pillar": CONCRETE, "parked_car": CAR_PAINT, "signboard": SIGN_PAINT}
CONTACT_SHEET_CELL = (64, 128)  # width, height
CONTACT_SHEET_GRID = (8, 10)  # identities (rows), images (columns)
DEFAULT_HELD_OUT_FRACTION = 0.02
# Fixed occluders (``CorpusConfig.fixtures_per_camera``): the kinds a world places for good, and the
# share of occluded crops that stand behind one of their camera's fixtures.
FIXTURE_KINDS = ("counter", "parked_car", "bench", "planter", "pillar", "signboard")
FIXTURE_SHARE = 0.6
MAX_FIXTURES_PER_CAMERA = 8


class CorpusError(RuntimeError):
    """A bad setting or an unusable output directory (one user-facing line)."""


@dataclass(frozen=True)
class CorpusConfig:
    """Everything that determines a corpus."""

    identities: int = 3000
    images_per_identity: int = 16
    cameras: int = 8
    seed: int = 0
    held_out_identities: int | None = None  # None: 2 % of the identities, at least 2 (10 from 50 identities)
    # Fixed occluders per camera (0: none, every static occluder drawn afresh). With N > 0 a share
    # FIXTURE_SHARE of the occluded crops stand behind one of their camera's N fixtures: the same kind,
    # colour and cover, in front of the same patch of the camera's scene, as a world's counter hides
    # everyone who passes it in one camera.
    fixtures_per_camera: int = 0

    def resolved_held_out(self) -> int:
        if self.held_out_identities is not None:
            return self.held_out_identities
        minimum = 10 if self.identities >= 50 else 2
        return max(minimum, int(round(DEFAULT_HELD_OUT_FRACTION * self.identities)))

    def validated(self) -> "CorpusConfig":
        if self.identities < 3:
            raise CorpusError(
                f"--identities must be at least 3 (training and held-out identities), got {self.identities}"
            )
        if self.images_per_identity < 3:
            raise CorpusError(f"--images-per-identity must be at least 3, got {self.images_per_identity}")
        if not 2 <= self.cameras <= MAX_CAMERAS:
            raise CorpusError(f"--cameras must be between 2 and {MAX_CAMERAS}, got {self.cameras}")
        if self.seed < 0:
            raise CorpusError(f"--seed must be >= 0, got {self.seed}")
        if not 0 <= self.fixtures_per_camera <= MAX_FIXTURES_PER_CAMERA:
            raise CorpusError(
                f"--fixtures-per-camera must be between 0 and {MAX_FIXTURES_PER_CAMERA}, got {self.fixtures_per_camera}"
            )
        held_out = self.resolved_held_out()
        if not 2 <= held_out <= self.identities - 1:
            raise CorpusError(
                f"--held-out-identities must be between 2 and identities - 1 = {self.identities - 1}, got {held_out}"
            )
        return self


@dataclass(frozen=True)
class CorpusCamera:
    """One corpus camera: its world-like geometry and fixed imaging effects."""

    camera: Camera
    zone_x: float
    effects: CameraEffects
    background_seed: int


@dataclass(frozen=True)
class CorpusFixture:
    """One fixed occluder of a corpus camera: ``paint_static_occluder(kind, ...)`` fed with a
    generator seeded by ``paint_seed`` paints the same colour and cover (relative to the person's
    box) every time, over the scene patch starting at column ``scene_x``."""

    kind: str
    paint_seed: int
    scene_x: int


@dataclass(frozen=True)
class CropRecord:
    """One written crop, as annotations.csv lists it."""

    split: str
    image: str  # relative to the dataset root
    person_id: int
    camera_id: int
    frame: int  # the global image index (1-based), as in the file name
    box: tuple[int, int, int, int]  # x, y, w, h in the camera's 640x360 frame
    visibility: float


@dataclass
class CropSample:
    """One rendered crop and everything its labels need."""

    person_id: int
    camera_id: int
    index: int
    box: tuple[int, int, int, int]
    visibility: float
    image: np.ndarray  # [h, w, 3] uint8 BGR, camera effects applied
    visible_mask: np.ndarray  # [h, w] bool: this person's visible pixels
    keypoints: np.ndarray  # [17, 2] crop coordinates
    person_height_px: float
    occluder: str  # "none" or the kind in front
    truncated: bool


@dataclass(frozen=True)
class ImageRequest:
    """What one image must show; forced settings make held-out identities evaluable."""

    person_id: int
    image_number: int  # 0-based within the identity
    force_camera: int | None = None
    force_holistic: bool = False
    force_occluded: bool = False


@dataclass
class WorkerState:
    """Per-process state: identities, cameras, their static scenes and noise banks."""

    config: CorpusConfig
    identities: list[Identity]
    cameras: list[CorpusCamera]
    held_out: frozenset[int]
    root: Path
    pid_digits: int
    scenes: dict[int, np.ndarray] = field(default_factory=dict)
    lookups: dict[int, np.ndarray] = field(default_factory=dict)
    noise: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    fixtures: dict[int, list[CorpusFixture]] = field(default_factory=dict)  # camera id -> its fixtures


# ----------------------------------------------------------------------------------------------
# Identities, cameras, held-out split


def sample_corpus_identities(count: int, seed: int) -> list[Identity]:
    """The corpus cast: ``identities.sample_identities`` on the ``corpus_identity`` streams."""
    return sample_identities(count, seed, purpose="corpus_identity")


def build_corpus_cameras(count: int, seed: int) -> list[CorpusCamera]:
    """Cameras placed like ``site_layout.build_site_layout`` does, from ``corpus_camera`` streams."""
    cameras = []
    for camera_id in range(1, count + 1):
        rng = random_stream(seed, "corpus_camera", camera_id)
        effects = camera_effects_for(camera_id)
        zone_x = ZONE_SPACING * camera_id
        distance = rng.uniform(10.5, 13.5)
        yaw = math.pi / 2 + math.radians(rng.uniform(-22.0, 22.0))
        camera = Camera(
            camera_id=camera_id,
            position=(zone_x - distance * math.cos(yaw), -distance * math.sin(yaw)),
            yaw=yaw,
            mount_height=rng.uniform(2.2, 2.8),
            focal=effects.viewing_scale * FRAME_WIDTH,
            horizon_row=FRAME_HEIGHT * rng.uniform(0.24, 0.34),
            width=FRAME_WIDTH,
            height=FRAME_HEIGHT,
        )
        background_seed = int(random_stream(seed, "corpus_background", camera_id).integers(2**62))
        cameras.append(CorpusCamera(camera, zone_x, effects, background_seed))
    return cameras


def build_camera_fixtures(config: CorpusConfig) -> dict[int, list[CorpusFixture]]:
    """Each camera's fixed occluders, from ``corpus_fixture`` streams (none when the setting is 0)."""
    fixtures = {}
    for camera_id in range(1, config.cameras + 1):
        rng = random_stream(config.seed, "corpus_fixture", camera_id)
        fixtures[camera_id] = [
            CorpusFixture(
                kind=FIXTURE_KINDS[int(rng.integers(len(FIXTURE_KINDS)))],
                paint_seed=int(rng.integers(2**62)),
                scene_x=int(rng.integers(0, FRAME_WIDTH)),
            )
            for _ in range(config.fixtures_per_camera)
        ]
    return fixtures


def choose_held_out_identities(config: CorpusConfig) -> frozenset[int]:
    rng = random_stream(config.seed, "corpus_held_out")
    chosen = rng.choice(np.arange(1, config.identities + 1), size=config.resolved_held_out(), replace=False)
    return frozenset(int(pid) for pid in chosen)


def image_requests(person_id: int, config: CorpusConfig, held_out: bool) -> list[ImageRequest]:
    """Held-out identities start with two holistic views in two cameras and one occluded view."""
    requests = [ImageRequest(person_id, n) for n in range(config.images_per_identity)]
    if held_out:
        rng = random_stream(config.seed, "corpus_held_out_cameras", person_id)
        first, second = (int(c) + 1 for c in rng.choice(config.cameras, size=2, replace=False))
        requests[0] = ImageRequest(person_id, 0, force_camera=first, force_holistic=True)
        requests[1] = ImageRequest(person_id, 1, force_camera=second, force_holistic=True)
        requests[2] = ImageRequest(person_id, 2, force_occluded=True)
    return requests


def global_image_index(config: CorpusConfig, person_id: int, image_number: int) -> int:
    return (person_id - 1) * config.images_per_identity + image_number + 1


# ----------------------------------------------------------------------------------------------
# Per-camera resources (built lazily, once per process)


def static_scene_for(state: WorkerState, camera_id: int) -> np.ndarray:
    if camera_id not in state.scenes:
        corpus_camera = state.cameras[camera_id - 1]
        scene = render_static_scene(corpus_camera.camera, corpus_camera.zone_x, [], corpus_camera.background_seed)
        state.scenes[camera_id] = scene.image
    return state.scenes[camera_id]


def colour_lookup_for(state: WorkerState, camera_id: int) -> np.ndarray:
    """The camera's colour cast / brightness / contrast table (the formula of ``CameraEffectsApplier``)."""
    if camera_id not in state.lookups:
        effects = state.cameras[camera_id - 1].effects
        levels = np.arange(256, dtype=np.float64)
        stretched = (levels - 128.0) * effects.contrast + 128.0 + effects.brightness
        channels = [np.clip(stretched * gain, 0, 255) for gain in effects.channel_gains_bgr]
        state.lookups[camera_id] = np.stack(channels, axis=-1).round().astype(np.uint8).reshape(256, 1, 3)
    return state.lookups[camera_id]


def noise_bank_for(state: WorkerState, camera_id: int) -> tuple[np.ndarray, np.ndarray]:
    if camera_id not in state.noise:
        effects = state.cameras[camera_id - 1].effects
        rng = random_stream(state.config.seed, "corpus_camera_noise", camera_id)
        noise = np.round(rng.normal(0.0, effects.noise_sigma, size=(*NOISE_BANK_SHAPE, 3)))
        state.noise[camera_id] = (np.clip(noise, 0, 255).astype(np.uint8), np.clip(-noise, 0, 255).astype(np.uint8))
    return state.noise[camera_id]


def apply_camera_effects(
    state: WorkerState, camera_id: int, canvas: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The world's per-camera look on a small canvas: colour table, blur, then sensor noise."""
    effects = state.cameras[camera_id - 1].effects
    out = cv2.LUT(canvas, colour_lookup_for(state, camera_id))
    if effects.blur_sigma > 0.05:
        out = cv2.GaussianBlur(out, (0, 0), effects.blur_sigma)
    noise_up, noise_down = noise_bank_for(state, camera_id)
    height, width = out.shape[:2]
    slot = int(rng.integers(NOISE_BANK_SHAPE[0]))
    y0 = int(rng.integers(NOISE_BANK_SHAPE[1] - height + 1))
    x0 = int(rng.integers(NOISE_BANK_SHAPE[2] - width + 1))
    out = cv2.add(out, noise_up[slot, y0: y0 + height, x0: x0 + width])
    return cv2.subtract(out, noise_down[slot, y0: y0 + height, x0: x0 + width])


# ----------------------------------------------------------------------------------------------
# Drawing one crop


def random_heading(rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0.0, 2.0 * math.pi)
    return np.array([math.cos(angle), math.sin(angle)])


def render_walking_person(
    identity: Identity, camera: Camera, depth: float, lateral: float, rng: np.random.Generator
) -> PersonSprite | None:
    """A walking pose (random gait phase, sometimes standing) and heading at (lateral, depth)."""
    body: BodyShape = identity.body
    phase = gait_phase(body, rng.uniform(0.0, body.stride_length))
    amplitude = 0.0 if rng.uniform() < 0.1 else 1.0
    joints = pose_joints(body, phase, amplitude)
    position = np.asarray(camera.position) + depth * camera.forward + lateral * camera.right
    return render_person_sprite(identity, joints, camera, position, random_heading(rng))


def silhouette_box(sprite: PersonSprite) -> tuple[int, int, int, int]:
    """Amodal box (x, y, w, h) of the sprite's body pixels, in frame coordinates."""
    mask = sprite.mask
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    x0, y0 = sprite.origin
    return x0 + int(cols[0]), y0 + int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def jittered_box(amodal: tuple[int, int, int, int], rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A detector-like box around the amodal box: centre shift, scale and aspect jitter."""
    x, y, w, h = amodal
    centre_x = x + w / 2 + rng.uniform(-BOX_CENTRE_JITTER, BOX_CENTRE_JITTER) * w
    centre_y = y + h / 2 + rng.uniform(-BOX_CENTRE_JITTER, BOX_CENTRE_JITTER) * h * 0.6
    height = h * rng.uniform(*BOX_HEIGHT_SCALE)
    width = w * rng.uniform(*BOX_HEIGHT_SCALE) * rng.uniform(*BOX_ASPECT_SCALE)
    left, top = int(round(centre_x - width / 2)), int(round(centre_y - height / 2))
    return left, top, max(8, int(round(width))), max(16, int(round(height)))


def truncated_box(
    box: tuple[int, int, int, int], amodal: tuple[int, int, int, int], rng: np.random.Generator
) -> tuple[int, int, int, int]:
    """The box cut by a frame border running through the person: bottom, left or right."""
    x, y, w, h = box
    ax, ay, aw, ah = amodal
    side = rng.choice(["bottom", "bottom", "left", "right"])
    if side == "bottom":
        bottom = int(round(ay + ah * rng.uniform(0.6, 0.88)))
        return x, y, w, max(16, bottom - y)
    if side == "left":
        left = int(round(ax + aw * rng.uniform(0.2, 0.45)))
        return left, y, max(8, x + w - left), h
    right = int(round(ax + aw * rng.uniform(0.55, 0.8)))
    return x, y, max(8, right - x), h


def paste_sprite(
    canvas: np.ndarray, labels: np.ndarray, sprite: PersonSprite, origin: tuple[int, int], label: int
) -> None:
    """Paint a sprite over the canvas (whose frame origin is ``origin``) and stamp its label."""
    height, width = labels.shape
    x0, y0 = sprite.origin[0] - origin[0], sprite.origin[1] - origin[1]
    sh, sw = sprite.pixels.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + sw, width), min(y0 + sh, height)
    if cx0 >= cx1 or cy0 >= cy1:
        return
    local = sprite.pixels[cy0 - y0: cy1 - y0, cx0 - x0: cx1 - x0]
    body = local[..., 3] > 0
    canvas[cy0:cy1, cx0:cx1][body] = local[..., :3][body]
    labels[cy0:cy1, cx0:cx1][body] = label


def paint_shadow(canvas: np.ndarray, sprite: PersonSprite, origin: tuple[int, int]) -> None:
    """The soft dark ellipse under the feet, as ``render.CameraRenderer`` paints it."""
    s = sprite.pixels_per_metre
    axes = (max(2, int(0.35 * s)), max(1, int(0.09 * s)))
    centre = (int(round(sprite.foot[0] + 0.1 * s)) - origin[0], int(round(sprite.foot[1])) - origin[1])
    stamp = np.zeros(canvas.shape[:2], dtype=np.uint8)
    cv2.ellipse(stamp, centre, axes, 0, 0, 360, 1, -1)
    shade = stamp > 0
    canvas[shade] = (canvas[shade] * 0.62).astype(np.uint8)


def shaded(colour, factor: float) -> tuple[int, int, int]:
    return tuple(int(min(255, c * factor)) for c in colour)


def paint_rectangle(canvas, labels, x0, y0, x1, y1, colour) -> None:
    height, width = labels.shape
    x0, x1 = max(0, int(round(x0))), min(width, int(round(x1)))
    y0, y1 = max(0, int(round(y0))), min(height, int(round(y1)))
    if x0 < x1 and y0 < y1:
        canvas[y0:y1, x0:x1] = colour
        labels[y0:y1, x0:x1] = OCCLUDER_LABEL


def paint_static_occluder(
    kind: str, canvas: np.ndarray, labels: np.ndarray, person: tuple[float, float, float, float],
    rng: np.random.Generator,
) -> None:
    """Paint a 2D static occluder relative to the person's amodal box (x, y, w, h in canvas pixels).

    Low ones (car, counter, bench, planter) hide the lower body, pillars a side, signboards the
    upper body while the legs stay visible.
    """
    px, py, pw, ph = person
    height, width = labels.shape
    colours = OCCLUDER_COLOURS[kind]
    colour = colours[int(rng.integers(len(colours)))]
    bottom = py + ph
    if kind in ("parked_car", "counter", "bench", "planter"):
        top = py + ph * rng.uniform(0.38, 0.72)
        if rng.uniform() < 0.7:
            left, right = -1.0, width + 1.0
        elif rng.uniform() < 0.5:
            left, right = -1.0, px + pw * rng.uniform(0.5, 1.0)
        else:
            left, right = px + pw * rng.uniform(0.0, 0.5), width + 1.0
        paint_rectangle(canvas, labels, left, top, right, height, colour)
        if kind == "parked_car":
            window_bottom = top + 0.35 * (bottom - top)
            paint_rectangle(canvas, labels, left, top, right, window_bottom, (96, 80, 70))
            paint_rectangle(canvas, labels, left, top, right, top + 0.06 * (bottom - top) + 1, colour)
            paint_rectangle(canvas, labels, left, bottom - 0.18 * (bottom - top), right, height, (28, 28, 28))
        elif kind == "counter":
            paint_rectangle(canvas, labels, left - 1, top, right + 1, top + max(2.0, 0.05 * ph), (200, 200, 205))
        elif kind == "bench":
            paint_rectangle(canvas, labels, left, top, right, top + max(2.0, 0.06 * ph), shaded(colour, 1.3))
        else:  # planter: a box with bushes on top
            paint_rectangle(canvas, labels, left, top, right, top + max(2.0, 0.05 * ph), shaded(colour, 1.25))
            radius = max(3, int(0.12 * ph))
            for k in range(int(rng.integers(2, 5))):
                cx = int(px + pw * rng.uniform(-0.3, 1.3))
                if left <= cx <= right:
                    cv2.circle(canvas, (cx, int(top)), radius, (50, 120 + 10 * k, 60), -1)
                    cv2.circle(labels, (cx, int(top)), radius, OCCLUDER_LABEL, -1)
    elif kind == "pillar":
        cover = pw * rng.uniform(0.25, 0.6)
        if rng.uniform() < 0.5:
            left, right = -1.0, px + cover
        else:
            left, right = px + pw - cover, width + 1.0
        paint_rectangle(canvas, labels, left, -1, right, height, colour)
        edge = left + 0.35 * (right - left) if left > 0 else right - 0.3 * (right - left)
        paint_rectangle(canvas, labels, min(edge, right), -1, right, height, shaded(colour, 0.8))
    else:  # signboard: hides the upper body on one side or the middle, posts below
        top = py + ph * rng.uniform(-0.1, 0.3)
        low = py + ph * rng.uniform(0.45, 0.62)
        centre = px + pw * rng.uniform(0.1, 0.9)
        half = pw * rng.uniform(0.35, 0.8)
        left, right = centre - half, centre + half
        paint_rectangle(canvas, labels, left, top, right, low, colour)
        inner = 0.15 * (right - left)
        paint_rectangle(canvas, labels, left + inner, top + 0.3 * (low - top), right - inner,
                        top + 0.6 * (low - top), (240, 240, 240))
        post = max(1.0, 0.04 * pw)
        for post_x in (left + inner, right - inner):
            paint_rectangle(canvas, labels, post_x - post, low, post_x + post, height, (70, 70, 70))


def choose_occluder_kind(rng: np.random.Generator) -> str:
    names = list(FRONT_OCCLUDERS)
    weights = np.array([FRONT_OCCLUDERS[name] for name in names])
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def fixture_for_crop(state: WorkerState, request: ImageRequest, camera_id: int) -> CorpusFixture | None:
    """The camera fixture an occluded crop stands behind (a share ``FIXTURE_SHARE`` of them), or None.

    Drawn from its own ``corpus_fixture_choice`` stream, so a corpus without fixtures renders the
    same bytes as before the setting existed."""
    fixtures = state.fixtures.get(camera_id)
    if not fixtures:
        return None
    rng = random_stream(state.config.seed, "corpus_fixture_choice", request.person_id, request.image_number)
    if rng.uniform() >= FIXTURE_SHARE:
        return None
    return fixtures[int(rng.integers(len(fixtures)))]


def other_identity(state: WorkerState, person_id: int, rng: np.random.Generator) -> Identity:
    """Another identity of the corpus (never ``person_id`` itself), for people in front or behind."""
    offset = int(rng.integers(1, len(state.identities)))
    return state.identities[(person_id - 1 + offset) % len(state.identities)]


def render_crop(state: WorkerState, request: ImageRequest) -> CropSample:
    """Render one crop: person, background patch, occluders, effects, then cut by the jittered box."""
    config = state.config
    rng = random_stream(config.seed, "corpus_image", request.person_id, request.image_number)
    identity = state.identities[request.person_id - 1]
    camera_id = request.force_camera or int(rng.integers(config.cameras)) + 1
    camera = state.cameras[camera_id - 1].camera
    target_height = rng.uniform(*PERSON_HEIGHT_PX)
    depth = camera.focal * identity.body.height_m / target_height
    sprite = render_walking_person(identity, camera, depth, 0.0, rng)
    amodal = silhouette_box(sprite)
    box = jittered_box(amodal, rng)
    truncated = not request.force_holistic and rng.uniform() < TRUNCATION_PROBABILITY
    if truncated:
        box = truncated_box(box, amodal, rng)
    occlusion_roll = rng.uniform()
    behind_roll = rng.uniform()
    scene_rng = random_stream(config.seed, "corpus_scene", request.person_id, request.image_number)
    for attempt in range(6):
        sample = compose_crop(state, request, identity, camera_id, sprite, amodal, box, truncated,
                              occluded=(request.force_occluded or
                                        (not request.force_holistic and occlusion_roll < OCCLUSION_PROBABILITY)),
                              person_behind=behind_roll < BEHIND_PERSON_PROBABILITY, rng=scene_rng)
        if request.force_occluded and sample.visibility >= OCCLUDED_BELOW:
            continue
        if sample.visibility >= MIN_VISIBILITY or attempt == 5:
            return sample
    return sample


def compose_crop(
    state: WorkerState, request: ImageRequest, identity: Identity, camera_id: int, sprite: PersonSprite,
    amodal: tuple[int, int, int, int], box: tuple[int, int, int, int], truncated: bool, occluded: bool,
    person_behind: bool, rng: np.random.Generator,
) -> CropSample:
    corpus_camera = state.cameras[camera_id - 1]
    camera = corpus_camera.camera
    margin = int(math.ceil(3 * corpus_camera.effects.blur_sigma)) + 1
    bx, by, bw, bh = box
    origin = (bx - margin, by - margin)  # person-frame coordinates of canvas pixel (0, 0)
    canvas_height, canvas_width = bh + 2 * margin, bw + 2 * margin
    scene = static_scene_for(state, camera_id)
    # The patch keeps the person's rows (the ground under the feet), at a random place along the street.
    frame_y = int(np.clip(origin[1], 0, FRAME_HEIGHT - canvas_height))
    frame_x = int(rng.integers(0, FRAME_WIDTH - canvas_width + 1))
    # A fixture overrides the column (and below, the kind) after their draws, so the stream stays
    # aligned with a corpus without fixtures.
    fixture = fixture_for_crop(state, request, camera_id) if occluded else None
    if fixture is not None:
        frame_x = min(fixture.scene_x, FRAME_WIDTH - canvas_width)
    canvas = scene[frame_y: frame_y + canvas_height, frame_x: frame_x + canvas_width].copy()
    labels = np.zeros((canvas_height, canvas_width), dtype=np.int32)
    depth = sprite.depth
    if person_behind:
        other = other_identity(state, identity.person_id, rng)
        behind_depth = depth * rng.uniform(1.15, 1.6)
        lateral = rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.8)
        behind = render_walking_person(other, camera, behind_depth, lateral, rng)
        if behind is not None:
            paint_shadow(canvas, behind, origin)
            paste_sprite(canvas, labels, behind, origin, -other.person_id - 1000)
    paint_shadow(canvas, sprite, origin)
    paste_sprite(canvas, labels, sprite, origin, identity.person_id)
    kind = "none"
    if occluded:
        kind = choose_occluder_kind(rng)
        person = (amodal[0] - origin[0], amodal[1] - origin[1], amodal[2], amodal[3])
        if fixture is not None:
            kind = fixture.kind
            paint_static_occluder(kind, canvas, labels, person, np.random.default_rng(fixture.paint_seed))
        elif kind == "other_person":
            other = other_identity(state, identity.person_id, rng)
            front_depth = depth * rng.uniform(0.72, 0.92)
            # Lateral offset so that the other body covers a side of this one (people are ~0.45 m wide).
            lateral = rng.choice([-1.0, 1.0]) * rng.uniform(0.12, 0.42) * identity.body.height_m
            front = render_walking_person(other, camera, front_depth, lateral * front_depth / depth, rng)
            if front is not None:
                paste_sprite(canvas, labels, front, origin, -other.person_id - 1000)
        else:
            paint_static_occluder(kind, canvas, labels, person, rng)
    canvas = apply_camera_effects(state, camera_id, canvas, rng)
    image = canvas[margin: margin + bh, margin: margin + bw].copy()
    visible_mask = labels[margin: margin + bh, margin: margin + bw] == identity.person_id
    body_pixels = int(sprite.mask.sum())
    visibility = float(visible_mask.sum()) / body_pixels
    keypoints = sprite.keypoints - np.array([bx, by], dtype=np.float64)
    index = global_image_index(state.config, identity.person_id, request.image_number)
    frame_box = (frame_x + margin, frame_y + margin, bw, bh)
    return CropSample(identity.person_id, camera_id, index, frame_box, round(min(visibility, 1.0), 4), image,
                      visible_mask, keypoints, float(amodal[3]), kind, truncated)


# ----------------------------------------------------------------------------------------------
# Splits and writing


def split_of_held_out(samples: list[CropSample], seed: int, person_id: int) -> dict[int, str]:
    """Occluded-Duke rules for one held-out identity: occluded -> query (a tenth to the gallery),
    holistic -> gallery; a query without a gallery crop in another camera moves to the gallery."""
    rng = random_stream(seed, "corpus_occluded_query", person_id)
    splits = {}
    for sample in samples:
        if sample.visibility < OCCLUDED_BELOW and rng.uniform() >= OCCLUDED_IN_GALLERY:
            splits[sample.index] = QUERY
        else:
            splits[sample.index] = GALLERY
    gallery_cameras = {s.camera_id for s in samples if splits[s.index] == GALLERY}
    for sample in samples:
        if splits[sample.index] == QUERY and not gallery_cameras - {sample.camera_id}:
            splits[sample.index] = GALLERY
    return splits


def write_crop(root: Path, split: str, sample: CropSample, pid_digits: int) -> CropRecord:
    stem = f"{sample.person_id:0{pid_digits}d}_c{sample.camera_id}_f{sample.index:07d}"
    image_path = root / split / f"{stem}.jpg"
    ok, encoded = cv2.imencode(".jpg", sample.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise OSError(f"could not encode {image_path}")
    image_path.write_bytes(encoded.tobytes())
    fields = confidence_fields(sample.keypoints, sample.visible_mask, sample.person_height_px)
    write_part_labels(part_label_path(root, image_path, OCCLUDED_DUKE_MASK_SUFFIX), fields)
    return CropRecord(split, f"{split}/{image_path.name}", sample.person_id, sample.camera_id, sample.index,
                      sample.box, sample.visibility)


def render_identity(state: WorkerState, person_id: int) -> list[CropSample]:
    held_out = person_id in state.held_out
    return [render_crop(state, request) for request in image_requests(person_id, state.config, held_out)]


def generate_identity(state: WorkerState, person_id: int) -> list[CropRecord]:
    samples = render_identity(state, person_id)
    if person_id in state.held_out:
        splits = split_of_held_out(samples, state.config.seed, person_id)
    else:
        splits = {sample.index: TRAIN for sample in samples}
    return [write_crop(state.root, splits[s.index], s, state.pid_digits) for s in samples]


_WORKER_STATE: WorkerState | None = None


def render_corpus_crop(config: CorpusConfig, person_id: int, image_number: int) -> CropSample:
    """Rebuild one crop of a corpus in memory (image, visible mask, keypoints, visibility), without
    touching the disk: what ``generate_corpus`` writes for ``(person_id, image_number)``."""
    config = config.validated()
    state = make_worker_state(config, Path("."))
    held_out = person_id in state.held_out
    return render_crop(state, image_requests(person_id, config, held_out)[image_number])


def make_worker_state(config: CorpusConfig, root: Path) -> WorkerState:
    return WorkerState(
        config=config,
        identities=sample_corpus_identities(config.identities, config.seed),
        cameras=build_corpus_cameras(config.cameras, config.seed),
        held_out=choose_held_out_identities(config),
        root=Path(root),
        pid_digits=max(4, len(str(config.identities))),
        fixtures=build_camera_fixtures(config),
    )


def initialise_worker(config: CorpusConfig, root: str) -> None:
    global _WORKER_STATE
    cv2.setNumThreads(1)
    _WORKER_STATE = make_worker_state(config, Path(root))


def generate_chunk(person_ids: list[int]) -> list[CropRecord]:
    assert _WORKER_STATE is not None
    records = []
    for person_id in person_ids:
        records.extend(generate_identity(_WORKER_STATE, person_id))
    return records


# ----------------------------------------------------------------------------------------------
# Output directory, the whole run, contact sheet


def partial_directory(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def check_output_directory(out: Path) -> None:
    """Refuse a file, or a non-empty directory that is not a previous corpus."""
    if out.exists() and not out.is_dir():
        raise CorpusError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / "corpus.json").exists():
        raise CorpusError(f"{out} is not empty and holds no corpus.json (not a previous corpus)")
    partial = partial_directory(out)
    if partial.exists() and not partial.is_dir():
        raise CorpusError(f"{partial} exists and is not a directory")


def prepare_partial_directory(out: Path) -> Path:
    partial = partial_directory(out)
    try:
        if partial.exists():
            shutil.rmtree(partial)
        root = partial / "reid_occluded"
        for split in (TRAIN, QUERY, GALLERY):
            (root / split).mkdir(parents=True)
            (root / "masks" / "pifpaf_maskrcnn_filtering" / split).mkdir(parents=True)
    except OSError as error:
        raise CorpusError(f"cannot write to {partial}: {error.strerror or error}") from error
    return partial


def identity_chunks(count: int, chunk_size: int) -> list[list[int]]:
    ids = list(range(1, count + 1))
    return [ids[i: i + chunk_size] for i in range(0, count, chunk_size)]


def write_annotations(root: Path, records: list[CropRecord]) -> None:
    with open(root / "annotations.csv", "w", newline="", encoding="ascii") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["split", "image", "person_id", "camera_id", "frame", "x", "y", "w", "h", "visibility"])
        for record in sorted(records, key=lambda r: (r.split, r.image)):
            writer.writerow([record.split, record.image, record.person_id, record.camera_id, record.frame,
                             *record.box, f"{record.visibility:.4f}"])


def corpus_progress_bar(total: int, enabled: bool):
    from reid.progress import progress_bar

    return progress_bar(total=total, unit="crop", desc="corpus", enabled=enabled, dynamic_ncols=True)


def generate_corpus(
    out: str | Path,
    config: CorpusConfig,
    workers: int = 2,
    progress: bool = True,
    contact_sheet: str | Path | None = None,
) -> dict:
    """Render and write the whole corpus; returns the corpus.json content."""
    config = config.validated()
    out = Path(out)
    check_output_directory(out)
    started = time.perf_counter()
    partial = prepare_partial_directory(out)
    root = partial / "reid_occluded"
    chunks = identity_chunks(config.identities, max(1, min(16, config.identities // max(1, 4 * workers))))
    records: list[CropRecord] = []
    bar = corpus_progress_bar(config.identities * config.images_per_identity, progress and sys.stderr.isatty())
    if workers <= 1:
        initialise_worker(config, str(root))
        results = (generate_chunk(chunk) for chunk in chunks)
        pool = None
    else:
        context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        pool = context.Pool(workers, initializer=initialise_worker, initargs=(config, str(root)))
        results = pool.imap(generate_chunk, chunks)
    try:
        for chunk_records in results:
            records.extend(chunk_records)
            if bar is not None:
                bar.update(len(chunk_records))
    except BaseException:
        if pool is not None:
            pool.terminate()
            pool.join()
        raise
    finally:
        if bar is not None:
            bar.close()
    if pool is not None:
        pool.close()
        pool.join()
    write_annotations(root, records)
    seconds = time.perf_counter() - started
    summary = corpus_summary(config, workers, records, seconds)
    sheet_inside = contact_sheet is None
    if sheet_inside:
        write_contact_sheet(root, records, partial / "contact_sheet.png")
    (partial / "corpus.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="ascii")
    if out.exists():
        shutil.rmtree(out)
    os.replace(partial, out)
    if not sheet_inside:
        write_contact_sheet(out / "reid_occluded", records, Path(contact_sheet))
    return summary


def corpus_summary(config: CorpusConfig, workers: int, records: list[CropRecord], seconds: float) -> dict:
    images = defaultdict(int)
    identities = defaultdict(set)
    for record in records:
        images[record.split] += 1
        identities[record.split].add(record.person_id)
    visibility = np.array([r.visibility for r in records])
    return {
        "generator": "python -m pipeline.synthetic.corpus",
        "settings": {**asdict(config), "held_out_identities": config.resolved_held_out(), "workers": workers},
        "seed": config.seed,
        "seed_namespace": "random_stream(seed, 'corpus_<purpose>', ...): disjoint from every world's streams",
        "frame_size": [FRAME_WIDTH, FRAME_HEIGHT],
        "person_height_px": list(PERSON_HEIGHT_PX),
        "images": {split: images[split] for split in (TRAIN, QUERY, GALLERY)},
        "identities": {split: len(identities[split]) for split in (TRAIN, QUERY, GALLERY)},
        "crops": len(records),
        "occluded_fraction": round(float((visibility < OCCLUDED_BELOW).mean()), 4) if len(records) else 0.0,
        "mean_visibility": round(float(visibility.mean()), 4) if len(records) else 0.0,
        "seconds": round(seconds, 2),
        "crops_per_second": round(len(records) / max(seconds, 1e-9), 1),
    }


def write_contact_sheet(root: Path, records: list[CropRecord], path: Path) -> None:
    """Rows = the first identities, columns = their images, each crop resized to a fixed cell."""
    rows, columns = CONTACT_SHEET_GRID
    cell_width, cell_height = CONTACT_SHEET_CELL
    by_identity = defaultdict(list)
    for record in sorted(records, key=lambda r: r.frame):
        by_identity[record.person_id].append(record)
    chosen = sorted(by_identity)[:rows]
    sheet = np.full((len(chosen) * (cell_height + 2), columns * (cell_width + 2), 3), 255, dtype=np.uint8)
    for row, person_id in enumerate(chosen):
        for column, record in enumerate(by_identity[person_id][:columns]):
            image = cv2.imread(str(root / record.image))
            cell = cv2.resize(image, (cell_width, cell_height), interpolation=cv2.INTER_AREA)
            cv2.putText(cell, f"c{record.camera_id} {record.visibility:.2f}", (2, cell_height - 4),
                        cv2.FONT_HERSHEY_PLAIN, 0.7, (0, 255, 255), 1, cv2.LINE_AA)
            y, x = row * (cell_height + 2), column * (cell_width + 2)
            sheet[y: y + cell_height, x: x + cell_width] = cell
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet):
        raise OSError(f"could not write {path}")


# ----------------------------------------------------------------------------------------------
# CLI


def build_parser() -> argparse.ArgumentParser:
    defaults = CorpusConfig()
    parser = OneLineErrorParser(
        prog="python -m pipeline.synthetic.corpus",
        description="Render a synthetic occluded ReID training corpus as person crops (no videos), "
        "in the Occluded-Duke layout with part labels, readable as dataset 'synthetic_occluded'.",
    )
    parser.add_argument("--out", required=True, help="output directory (a previous corpus there is replaced; "
                        "built in OUT.partial first)")
    parser.add_argument("--identities", type=int, default=defaults.identities,
                        help=f"number of identities (default {defaults.identities})")
    parser.add_argument("--images-per-identity", type=int, default=defaults.images_per_identity,
                        help=f"crops per identity (default {defaults.images_per_identity})")
    parser.add_argument("--cameras", type=int, default=defaults.cameras,
                        help=f"cameras, 2..{MAX_CAMERAS}, each with its own look (default {defaults.cameras})")
    parser.add_argument("--seed", type=int, default=defaults.seed, help=f"corpus seed (default {defaults.seed})")
    parser.add_argument("--workers", type=int, default=2, help="worker processes; the output does not depend "
                        "on it (default 2)")
    parser.add_argument("--held-out-identities", type=int, default=None,
                        help="identities kept for query/gallery (default 2%% of the identities, at least 2, "
                        "at least 10 from 50 identities)")
    parser.add_argument("--fixtures-per-camera", type=int, default=defaults.fixtures_per_camera,
                        help=f"fixed occluders per camera, 0..{MAX_FIXTURES_PER_CAMERA}: {round(100 * FIXTURE_SHARE)}%% of the "
                        "occluded crops stand behind one of them, as people behind one counter of a "
                        f"world camera (default {defaults.fixtures_per_camera}: every occluder drawn afresh)")
    parser.add_argument("--contact-sheet", default=None,
                        help="PNG grid of sample identities (default OUT/contact_sheet.png)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar (default: shown on a terminal)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors (default off)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.workers < 1:
            raise CorpusError(f"--workers must be at least 1, got {args.workers}")
        config = CorpusConfig(
            identities=args.identities,
            images_per_identity=args.images_per_identity,
            cameras=args.cameras,
            seed=args.seed,
            held_out_identities=args.held_out_identities,
            fixtures_per_camera=args.fixtures_per_camera,
        ).validated()
        check_output_directory(Path(args.out))
        summary = generate_corpus(args.out, config, workers=args.workers, progress=not args.quiet,
                                  contact_sheet=args.contact_sheet)
    except (CorpusError, OSError) as error:
        if args.debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"wrote {args.out}: {config.identities} identities, {summary['crops']} crops "
        f"(train {summary['images'][TRAIN]}, query {summary['images'][QUERY]}, gallery {summary['images'][GALLERY]}) "
        f"in {summary['seconds']:.1f} s, {summary['crops_per_second']:.0f} crops/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
