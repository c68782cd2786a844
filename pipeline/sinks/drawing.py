"""Drawing tracked boxes with OpenCV: identity colour, label, part-visibility strip.

Each box gets a colour from its global id (grey while unassigned), a label ``G{global_id}
T{track_id}`` (``G- T{track_id}`` while unassigned) on a filled tab at its top-left corner, and
under the label a strip of 1+K squares, one per entry of the visibility vector (foreground first,
set slightly apart, then the K body parts): filled = visible, hollow = not visible. A legend with
the part names in strip order sits at the bottom-left of the frame. A box filled in after the run
(``TrackBox.interpolated``) has a dashed outline and its label ends in ``interp``.

Only ``cv2`` primitives are used (ultralytics' plotting downloads a font).
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, replace
from typing import Sequence

import cv2
import numpy as np

from pipeline.records import TrackBox

Rectangle = tuple[int, int, int, int]  # x1, y1, x2, y2, inclusive pixel coordinates
Colour = tuple[int, int, int]  # B, G, R

UNASSIGNED_COLOUR: Colour = (160, 160, 160)
STRIP_BACKGROUND: Colour = (32, 32, 32)
FONT = cv2.FONT_HERSHEY_SIMPLEX
GOLDEN_RATIO_CONJUGATE = 0.6180339887498949


def identity_colour(global_id: int | None) -> Colour:
    """A saturated BGR colour for a global id (successive ids far apart in hue); grey for None."""
    if global_id is None:
        return UNASSIGNED_COLOUR
    hue = (int(global_id) * GOLDEN_RATIO_CONJUGATE) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(round(blue * 255)), int(round(green * 255)), int(round(red * 255))


def text_colour_on(background: Colour) -> Colour:
    """Black or white, whichever reads better on ``background`` (BGR)."""
    blue, green, red = background
    luminance = 0.114 * blue + 0.587 * green + 0.299 * red
    return (0, 0, 0) if luminance > 140 else (255, 255, 255)


INTERPOLATED_SUFFIX = " interp"


class HeldVisibility:
    """The last visibility drawn for each track of one camera, held over the frames in between
    extractions (``extractor.every_n_frames``) so that the strips do not blink.

    A box filled in after the run (``interpolated``) gets none: no crop of it was seen. A pattern is
    held for at most ``max_frames`` frames after the box it came from; entries older
    than that are evicted at every frame, so the state is bounded by the tracks recently in view.
    """

    def __init__(self, max_frames: int = 8):
        self.max_frames = max_frames
        self._last: dict[int, tuple[tuple[bool, ...], int]] = {}  # track id -> (pattern, frame_index)

    def apply(self, frame_index: int, boxes: Sequence[TrackBox]) -> list[TrackBox]:
        """The boxes of one frame (frames in increasing order), boxes without visibility given the held one."""
        held = []
        for box in boxes:
            if box.visibility is not None:
                self._last[int(box.track_id)] = (tuple(bool(v) for v in box.visibility), frame_index)
                held.append(box)
                continue
            last = None if box.interpolated else self._last.get(int(box.track_id))  # a filled-in box saw nothing
            held.append(box if last is None else replace(box, visibility=last[0]))
        oldest = frame_index - self.max_frames
        for track_id in [track for track, (_, seen) in self._last.items() if seen < oldest]:
            del self._last[track_id]
        return held


def box_label(box: TrackBox) -> str:
    global_part = "-" if box.global_id is None else str(int(box.global_id))
    suffix = INTERPOLATED_SUFFIX if box.interpolated else ""
    return f"G{global_part} T{int(box.track_id)}{suffix}"


def draw_dashed_rectangle(image: np.ndarray, rectangle: Rectangle, colour: Colour, thickness: int) -> None:
    """The outline of ``rectangle`` (inclusive x1, y1, x2, y2) as dashes 4 line widths long, equal gaps."""
    x1, y1, x2, y2 = rectangle
    dash = max(4, 4 * thickness)
    corners = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    for (start_x, start_y), (end_x, end_y) in zip(corners, corners[1:] + corners[:1]):
        length = max(abs(end_x - start_x), abs(end_y - start_y))
        for offset in range(0, length + 1, 2 * dash):
            stop = min(offset + dash - 1, length)
            points = [
                (round(start_x + (end_x - start_x) * fraction), round(start_y + (end_y - start_y) * fraction))
                for fraction in (offset / max(length, 1), stop / max(length, 1))
            ]
            cv2.line(image, points[0], points[1], colour, thickness, cv2.LINE_AA)


@dataclass(frozen=True)
class AnnotationStyle:
    """Sizes in pixels, scaled with the frame height (720 p = 1x)."""

    line_thickness: int
    font_scale: float
    text_thickness: int
    square: int  # side of one visibility square
    gap: int  # space between squares
    padding: int  # inside the label tab and the strip

    @classmethod
    def for_height(cls, height: int) -> "AnnotationStyle":
        scale = max(height, 1) / 720.0
        return cls(
            line_thickness=max(1, round(2 * scale)),
            font_scale=max(0.35, 0.55 * scale),
            text_thickness=max(1, round(1.2 * scale)),
            square=max(7, round(10 * scale)),
            gap=max(1, round(2 * scale)),
            padding=max(1, round(3 * scale)),
        )


@dataclass(frozen=True)
class BoxAnnotationLayout:
    """Where the parts of one box's annotation go (all rectangles inclusive, inside the image)."""

    box: Rectangle
    label: Rectangle
    text_origin: tuple[int, int]  # bottom-left of the label text, as cv2.putText wants it
    strip: Rectangle | None  # dark backing of the squares; None when there is no visibility
    squares: tuple[Rectangle, ...]

    @property
    def tab(self) -> Rectangle:
        """The label and the strip together: what a later box's annotation should not cover."""
        if self.strip is None:
            return self.label
        return (min(self.label[0], self.strip[0]), self.label[1], max(self.label[2], self.strip[2]), self.strip[3])


def _clip(value: float, low: int, high: int) -> int:
    return int(min(max(value, low), high))


def _overlap(first: Rectangle, second: Rectangle) -> int:
    """Pixels two inclusive rectangles share."""
    width = min(first[2], second[2]) - max(first[0], second[0]) + 1
    height = min(first[3], second[3]) - max(first[1], second[1]) + 1
    return max(width, 0) * max(height, 0)


def layout_box_annotation(
    box_xyxy: Sequence[float],
    label: str,
    num_squares: int,
    image_size: tuple[int, int],
    style: AnnotationStyle,
    taken: Sequence[Rectangle] = (),
) -> BoxAnnotationLayout:
    """Place the label tab and, right under it, the strip: above the box's top-left corner (inside it
    when there is no room), or - when that would cover the tab of a box drawn before (``taken``, the
    ``tab`` rectangles of their layouts) - wherever covers the fewest taken pixels among: above the
    top-right corner, below the box (left, right), inside its top, inside its bottom (left, right);
    ties go to that order.

    box_xyxy: x1, y1, x2, y2 in pixels (non-finite values raise ValueError); image_size: (width,
    height); num_squares: 1+K, or 0 for no strip. Everything is shifted to stay inside the image.
    """
    values = [float(value) for value in box_xyxy]
    if not all(math.isfinite(value) for value in values):
        raise ValueError(f"cannot draw a non-finite box {tuple(box_xyxy)}")
    width, height = image_size
    x1, y1 = _clip(values[0], 0, width - 1), _clip(values[1], 0, height - 1)
    x2, y2 = _clip(values[2], 0, width - 1), _clip(values[3], 0, height - 1)
    (text_width, text_height), baseline = cv2.getTextSize(label, FONT, style.font_scale, style.text_thickness)
    label_width = text_width + 2 * style.padding
    label_height = text_height + baseline + 2 * style.padding
    strip_width = 2 * style.padding + num_squares * style.square + max(num_squares, 0) * style.gap
    strip_height = style.square + 2 * style.padding if num_squares else 0
    block_width, block_height = max(label_width, strip_width), label_height + strip_height

    def place(left: int, top: int) -> tuple[int, int]:
        left = _clip(min(left, width - block_width), 0, width - 1)
        return left, _clip(min(top, height - block_height), 0, height - 1)

    above = y1 - label_height if y1 - label_height >= 0 else y1
    right = x2 - block_width + 1
    candidates = [place(x1, above), place(right, above), place(x1, y2 + 1), place(right, y2 + 1),
                  place(x1, y1), place(x1, y2 - block_height + 1), place(right, y1), place(right, y2 - block_height + 1)]
    if taken:
        def covered(candidate: tuple[int, int]) -> int:
            left, top = candidate
            block = (left, top, min(left + block_width - 1, width - 1), min(top + block_height - 1, height - 1))
            return sum(_overlap(block, other) for other in taken)

        costs = [covered(candidate) for candidate in candidates]
        left, label_top = candidates[costs.index(min(costs))]
    else:
        left, label_top = candidates[0]
    label = (left, label_top, min(left + label_width - 1, width - 1), min(label_top + label_height - 1, height - 1))
    text_origin = (left + style.padding, label_top + style.padding + text_height)
    if not num_squares:
        return BoxAnnotationLayout((x1, y1, x2, y2), label, text_origin, None, ())
    strip_top = label[3] + 1
    strip = (left, strip_top, min(left + strip_width - 1, width - 1), min(strip_top + strip_height - 1, height - 1))
    squares = []
    for index in range(num_squares):
        square_left = left + style.padding + index * (style.square + style.gap) + (style.gap if index else 0)
        square_top = strip_top + style.padding
        squares.append((square_left, square_top, square_left + style.square - 1, square_top + style.square - 1))
    return BoxAnnotationLayout((x1, y1, x2, y2), label, text_origin, strip, tuple(squares))


def draw_track_box(image: np.ndarray, box: TrackBox, style: AnnotationStyle,
                   taken: Sequence[Rectangle] = ()) -> BoxAnnotationLayout:
    """Draw one box, its label and its visibility strip on ``image`` (BGR uint8 [H, W, 3], in place),
    the label placed off the ``taken`` tabs where it can be (see ``layout_box_annotation``)."""
    height, width = image.shape[:2]
    colour = identity_colour(box.global_id)
    label = box_label(box)
    visibility = () if box.visibility is None else tuple(bool(value) for value in box.visibility)
    layout = layout_box_annotation(box.box, label, len(visibility), (width, height), style, taken)
    x1, y1, x2, y2 = layout.box
    if box.interpolated:
        draw_dashed_rectangle(image, layout.box, colour, style.line_thickness)
    else:
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, style.line_thickness, cv2.LINE_AA)
    lx1, ly1, lx2, ly2 = layout.label
    cv2.rectangle(image, (lx1, ly1), (lx2, ly2), colour, -1)
    cv2.putText(image, label, layout.text_origin, FONT, style.font_scale, text_colour_on(colour),
                style.text_thickness, cv2.LINE_AA)
    if layout.strip is not None:
        sx1, sy1, sx2, sy2 = layout.strip
        cv2.rectangle(image, (sx1, sy1), (sx2, sy2), STRIP_BACKGROUND, -1)
        for visible, (qx1, qy1, qx2, qy2) in zip(visibility, layout.squares):
            cv2.rectangle(image, (qx1, qy1), (qx2, qy2), colour, -1 if visible else 1)
    return layout


def draw_part_legend(image: np.ndarray, visibility_names: Sequence[str], style: AnnotationStyle) -> None:
    """Write ``parts: foreground head ...`` (strip order) at the bottom-left, shrunk to fit the width."""
    if not visibility_names:
        return
    height, width = image.shape[:2]
    text = "parts: " + " | ".join(visibility_names)
    scale = style.font_scale
    (text_width, text_height), baseline = cv2.getTextSize(text, FONT, scale, style.text_thickness)
    available = width - 2 * style.padding
    if text_width > available:
        scale *= available / text_width
        (text_width, text_height), baseline = cv2.getTextSize(text, FONT, scale, style.text_thickness)
    top = height - text_height - baseline - 2 * style.padding
    cv2.rectangle(image, (0, max(top, 0)), (min(text_width + 2 * style.padding, width - 1), height - 1),
                  STRIP_BACKGROUND, -1)
    cv2.putText(image, text, (style.padding, height - style.padding - baseline), FONT, scale,
                (235, 235, 235), style.text_thickness, cv2.LINE_AA)


def annotate_frame(image: np.ndarray, boxes: Sequence[TrackBox], visibility_names: Sequence[str] = ()) -> np.ndarray:
    """A copy of ``image`` (BGR uint8 [H, W, 3]; grey [H, W] is converted) with every box drawn.

    Boxes are drawn unassigned first, then by global id, so labels of identified people stay on top;
    each label goes where it covers the fewest labels already drawn.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 BGR images, got dtype {image.dtype}")
    if image.ndim == 2:
        canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 3:
        canvas = image.copy()
    else:
        raise ValueError(f"frames must be [H, W, 3] BGR images, got shape {image.shape}")
    style = AnnotationStyle.for_height(canvas.shape[0])
    ordered = sorted(boxes, key=lambda box: (box.global_id is not None, box.global_id or 0, box.track_id))
    taken: list[Rectangle] = []
    for box in ordered:
        taken.append(draw_track_box(canvas, box, style, taken).tab)
    draw_part_legend(canvas, visibility_names, style)
    return canvas
