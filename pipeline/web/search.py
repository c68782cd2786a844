""""Where else was this person?": a photo's part features against every stored track's part memory.

The query crop goes through the run's own part-feature extractor; tracks are ranked by the
visible-part distance (``reid.distance.visible_part_distance``: only the embeddings visible in both
are compared), and identities by their closest track.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from pipeline.web.store import ResultsStore, TrackletGallery
from reid.distance import visible_part_distance
from reid.features import PartFeatures

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_IMAGE_PIXELS = 16_000_000  # larger images are refused before they are decoded
MIN_IMAGE_SIDE = 8  # pixels
GALLERY_REFRESH_S = 5.0  # a live run's gallery is re-read at most this often


class QueryImageError(ValueError):
    """The uploaded bytes are not a usable picture of a person (the message says why)."""


def _image_file_class(data: bytes):
    """Pillow's reader class for the upload's format, from its magic bytes (None: not a format we take).

    The reader classes are used directly rather than ``PIL.Image.open``: ultralytics, imported in
    the same process during a run, patches ``Image.open`` to install a HEIF plugin from the network
    when a file is not recognised."""
    from PIL import BmpImagePlugin, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

    if data.startswith(b"\xff\xd8\xff"):
        return JpegImagePlugin.JpegImageFile
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PngImagePlugin.PngImageFile
    if data.startswith(b"BM"):
        return BmpImagePlugin.BmpImageFile
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WebPImagePlugin.WebPImageFile
    return None


def decode_query_image(data: bytes) -> np.ndarray:
    """Uploaded bytes -> BGR uint8 [H, W, 3], defensively: size, format and pixel count are checked
    from the header before anything is decoded."""
    if not data:
        raise QueryImageError("the uploaded file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise QueryImageError(f"the uploaded file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    reader = _image_file_class(data)
    if reader is None:
        raise QueryImageError("the uploaded file is not an image (JPEG, PNG, BMP or WebP expected)")
    try:
        with reader(io.BytesIO(data)) as header:
            width, height = header.size
            kind = header.format
    except Exception:  # noqa: BLE001 - any failure to read the header means a broken file
        raise QueryImageError("the uploaded file is not a readable image (its header is broken)") from None
    if width * height > MAX_IMAGE_PIXELS:
        raise QueryImageError(f"the image is {width}x{height}: more than {MAX_IMAGE_PIXELS} pixels")
    if min(width, height) < MIN_IMAGE_SIDE:
        raise QueryImageError(f"the image is {width}x{height}: too small to show a person")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise QueryImageError(f"the {kind or 'uploaded'} image cannot be decoded")
    return image


@dataclass(frozen=True)
class SearchResult:
    """One identity found for a query: its closest track and the parts the distance compared."""

    global_id: int
    distance: float
    camera: str
    track_id: int
    compared_parts: tuple[str, ...]


@dataclass(frozen=True)
class SearchAnswer:
    visible_parts: tuple[str, ...]  # the parts the extractor saw in the query
    results: tuple[SearchResult, ...]  # best first


class TrackletSearch:
    """Ranks the store's identities for a query crop.

    extractor: a ``reid.runtime`` part-feature extractor (the run's model). The gallery is read from
    the store once (and, while a live run adds tracks, again at most every ``GALLERY_REFRESH_S``).
    """

    def __init__(self, store: ResultsStore, extractor, live: bool = False):
        self.store = store
        self.extractor = extractor
        self.live = live
        self.part_names = tuple(store.part_names()) or ("foreground", *extractor.part_names)
        self._gallery_lock = threading.Lock()  # one reader of the store at a time
        self._extractor_lock = threading.Lock()  # extractors are not guaranteed to be thread-safe
        self._gallery: TrackletGallery | None = None
        self._gallery_features: PartFeatures | None = None
        self._read_at = -float("inf")

    def gallery(self) -> tuple[TrackletGallery, PartFeatures]:
        with self._gallery_lock:
            stale = self._gallery is None or (self.live and time.monotonic() - self._read_at > GALLERY_REFRESH_S)
            if stale:
                gallery = self.store.tracklet_gallery()
                self._gallery = gallery
                self._gallery_features = PartFeatures(torch.from_numpy(gallery.embeddings),
                                                      torch.from_numpy(gallery.visibility))
                self._read_at = time.monotonic()
            return self._gallery, self._gallery_features

    def query_features(self, crop: np.ndarray) -> PartFeatures:
        """BGR crop -> its part features [1, 1+K, D]."""
        with self._extractor_lock:
            return self.extractor.extract([crop])

    def search(self, crop: np.ndarray, top_k: int = 20) -> SearchAnswer:
        query = self.query_features(crop)
        gallery, features = self.gallery()
        visible = query.visibility[0].numpy()
        names = self.part_names
        visible_parts = tuple(name for name, seen in zip(names, visible) if seen)
        if len(gallery) == 0 or gallery.embeddings.shape[1:] != tuple(query.embeddings.shape[1:]):
            return SearchAnswer(visible_parts, ())
        distances = visible_part_distance(query, features)[0].numpy()
        associated = gallery.global_ids >= 0
        order = np.argsort(np.where(associated, distances, np.inf), kind="stable")
        results, seen_ids = [], set()
        for index in order:
            if not np.isfinite(distances[index]) or not associated[index]:
                break
            global_id = int(gallery.global_ids[index])
            if global_id in seen_ids:
                continue
            seen_ids.add(global_id)
            shared = visible & gallery.visibility[index]
            results.append(SearchResult(global_id, float(distances[index]), gallery.cameras[index],
                                        int(gallery.track_ids[index]),
                                        tuple(name for name, both in zip(names, shared) if both)))
            if len(results) >= top_k:
                break
        return SearchAnswer(visible_parts, tuple(results))
