"""Image files on disk: reading one (with a one-line error) and finding the images under a folder."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reid.errors import UserError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


def read_bgr(path: str | Path) -> np.ndarray:
    """uint8 BGR [H, W, 3]; an unreadable file is a ``UserError`` naming it."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise UserError(f"{path}: cannot read image")
    return image


def image_files_under(directory: str | Path) -> list[Path]:
    """Every image file (by suffix) under ``directory``, recursively, in sorted order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(f"{directory}: not a directory of images")
    return sorted(path for path in directory.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())
