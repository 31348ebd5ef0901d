"""Cameras through OpenCV's VideoCapture: a USB device index, a video file or a stream URL.

`Camera` yields RGB uint8 frames (height, width, 3) of the requested size. A source that cannot
be opened raises `CameraError` naming it (and, for an index, the /dev/video* devices that exist);
a frame that cannot be read returns None and counts in `failures`, so a node can report it and
keep running. Video files loop by default, which makes a file a stand-in camera.
"""
from __future__ import annotations

import glob
import os

import numpy as np


class CameraError(RuntimeError):
    """The camera source cannot be opened."""


def parse_source(source: str | int) -> str | int:
    """'0' or 0 -> device index 0; anything else (path, rtsp://, http://) stays a string."""
    if isinstance(source, int):
        return source
    s = str(source).strip()
    return int(s) if s.isdigit() else s


class Camera:
    """One OpenCV capture.

    Args:
        source: device index (int or digits), file path or URL.
        width, height: output size in pixels; frames of another size are resized (INTER_AREA).
            0 keeps the source's size.
        loop: restart a video file at its end (default True).
    """

    def __init__(self, source: str | int = 0, width: int = 0, height: int = 0, loop: bool = True):
        import cv2
        self._cv2 = cv2
        self.source = parse_source(source)
        self.width, self.height = int(width), int(height)
        if self.width < 0 or self.height < 0:
            raise ValueError(f"camera size must be >= 0, got {self.width}x{self.height}")
        self.loop = bool(loop)
        self.failures = 0
        self.frames = 0
        if isinstance(self.source, str) and "://" not in self.source and not os.path.exists(self.source):
            raise CameraError(f"camera source {self.source!r}: no such file")
        self.cap = cv2.VideoCapture(self.source)
        if not self.cap.isOpened():
            self.cap.release()
            hint = ""
            if isinstance(self.source, int):
                devices = sorted(glob.glob("/dev/video*"))
                hint = f" (video devices present: {', '.join(devices) if devices else 'none'})"
            raise CameraError(f"cannot open camera source {self.source!r}{hint}")
        if isinstance(self.source, int) and self.width and self.height:
            # Ask the device for the size; frames are resized below whatever it grants.
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)

    @property
    def is_file(self) -> bool:
        return isinstance(self.source, str) and "://" not in self.source

    def read(self) -> np.ndarray | None:
        """Next frame as RGB uint8 (height, width, 3), or None if none could be read."""
        cv2 = self._cv2
        ok, frame = self.cap.read()
        if not ok and self.is_file and self.loop:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
        if not ok or frame is None:
            self.failures += 1
            return None
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if self.width and self.height and frame.shape[:2] != (self.height, self.width):
            frame = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_AREA)
        self.frames += 1
        return np.ascontiguousarray(frame)

    def close(self) -> None:
        self.cap.release()
