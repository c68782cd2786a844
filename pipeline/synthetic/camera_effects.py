"""Per-camera imaging differences: colour cast, brightness, contrast, blur, sensor noise, viewing scale.

The table below is the whole per-camera "look"; camera c uses row (c - 1) of ``CAMERA_EFFECTS``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from pipeline.synthetic.random_streams import random_stream


@dataclass(frozen=True)
class CameraEffects:
    name: str
    channel_gains_bgr: tuple[float, float, float]  # colour cast, multiplies each channel
    brightness: float  # grey levels added after the contrast stretch
    contrast: float  # stretch around mid-grey
    blur_sigma: float  # Gaussian blur, pixels at a 640-pixel-wide frame (scaled with the width)
    noise_sigma: float  # sensor noise, grey levels
    viewing_scale: float  # focal length as a fraction of the frame width (bigger = people look larger)

    def to_dict(self) -> dict:
        return asdict(self)


CAMERA_EFFECTS: tuple[CameraEffects, ...] = (
    CameraEffects("daylight_neutral", (1.00, 1.00, 1.00), 0.0, 1.00, 0.0, 2.0, 0.85),
    CameraEffects("warm_indoor_soft", (0.82, 0.98, 1.15), 6.0, 0.92, 0.9, 3.5, 1.00),
    CameraEffects("cool_dim_noisy", (1.15, 1.00, 0.86), -28.0, 0.88, 0.6, 6.0, 0.72),
    CameraEffects("bright_greenish", (0.94, 1.08, 0.93), 18.0, 1.08, 0.3, 2.5, 0.92),
    CameraEffects("overcast_flat", (1.04, 1.02, 0.98), -6.0, 0.80, 0.5, 3.0, 0.80),
    CameraEffects("sodium_evening", (0.70, 0.92, 1.20), -20.0, 0.95, 1.1, 5.0, 0.95),
    CameraEffects("harsh_contrast", (1.00, 0.97, 1.03), 4.0, 1.22, 0.0, 2.0, 0.78),
    CameraEffects("blurry_wide", (1.06, 1.03, 0.95), 10.0, 0.96, 1.4, 4.0, 0.70),
)

NOISE_BANK_SIZE = 8


def camera_effects_for(camera_id: int) -> CameraEffects:
    return CAMERA_EFFECTS[(camera_id - 1) % len(CAMERA_EFFECTS)]


class CameraEffectsApplier:
    """Applies one camera's effects to rendered BGR frames, deterministically per frame index."""

    def __init__(self, effects: CameraEffects, width: int, height: int, seed: int, camera_id: int):
        self.effects = effects
        levels = np.arange(256, dtype=np.float64)
        stretched = (levels - 128.0) * effects.contrast + 128.0 + effects.brightness
        channels = [np.clip(stretched * gain, 0, 255) for gain in effects.channel_gains_bgr]
        self._lookup = np.stack(channels, axis=-1).round().astype(np.uint8).reshape(256, 1, 3)
        self._blur_sigma = effects.blur_sigma * width / 640.0
        rng = random_stream(seed, "camera_noise", camera_id)
        noise = rng.normal(0.0, effects.noise_sigma, size=(NOISE_BANK_SIZE, height, width, 3))
        noise = np.round(noise)
        self._noise_up = np.clip(noise, 0, 255).astype(np.uint8)
        self._noise_down = np.clip(-noise, 0, 255).astype(np.uint8)

    def apply(self, image: np.ndarray, frame_index: int) -> np.ndarray:
        out = cv2.LUT(image, self._lookup)
        if self._blur_sigma > 0.05:
            out = cv2.GaussianBlur(out, (0, 0), self._blur_sigma)
        slot = frame_index % NOISE_BANK_SIZE
        out = cv2.add(out, self._noise_up[slot])
        return cv2.subtract(out, self._noise_down[slot])
