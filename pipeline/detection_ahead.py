"""Decode and detect the next time steps in a thread while this one is extracted, tracked and associated.

On a small CPU the detector (PyTorch) and the part-feature extractor (ONNX Runtime) each leave part
of the cores idle: the extractor's small per-step batches scale poorly across threads. Running the
detector one or two steps ahead, on one PyTorch thread, fills those idle cycles
(``benchmarks/detection_ahead.py`` measures both ways side by side). The steps come out in the
reader's order with the same detections a plain loop gives (up to PyTorch's one-thread vs two-thread
rounding), so the rest of the run is unchanged.

Bounded: at most ``depth`` steps wait in the queue; the thread ends with the reader, or when
``close`` is called (it then stops at its next put and the queue is drained).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from pipeline.records import Detections, FramePacket

_END = object()


@dataclass(frozen=True)
class DetectedStep:
    """One time step read and detected ahead: the packet, one ``Detections`` per frame, and the
    seconds its decoding and detection took in the thread."""

    packet: FramePacket
    detections: list[Detections]
    decode_seconds: float
    detect_seconds: float


class DetectionAhead:
    """Iterates ``packets`` in a thread, runs ``detect`` on each packet's frames, hands them on in order.

    packets: the reader's iterator of ``FramePacket``; detect: ``frames -> list[Detections]``;
    depth: steps that may wait (memory: ``depth`` packets of frames). Errors in the thread are raised
    by ``next_step`` in the caller's thread.
    """

    def __init__(self, packets: Iterator[FramePacket], detect: Callable, depth: int = 2):
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self._packets = packets
        self._detect = detect
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="detection-ahead", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        """Put ``item``, waiting for room; False when closed meanwhile."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                started = time.perf_counter()
                packet = next(self._packets, None)
                decoded = time.perf_counter()
                if packet is None:
                    break
                detections = self._detect(list(packet.frames))
                step = DetectedStep(packet, detections, decoded - started, time.perf_counter() - decoded)
                if not self._put(step):
                    return
        except BaseException as error:  # handed to the caller's thread
            self._put(error)
            return
        self._put(_END)

    def next_step(self) -> DetectedStep | None:
        """The next step in reader order, or None when the reader has ended."""
        item = self._queue.get()
        if item is _END:
            self._queue.put(_END)  # later calls see the end too
            return None
        if isinstance(item, BaseException):
            self._queue.put(_END)
            raise item
        return item

    def close(self) -> None:
        """Stop the thread (it finishes the step it is on) and drop what waits."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=30)
