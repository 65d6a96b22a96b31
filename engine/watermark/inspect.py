"""A whole file (video or image) -> the mark's verdict: per 1 s window, then for the file.

Each window decides alone (engine.watermark.detect, false-positive bound DETECT_FPR). The file
is "marked" when at least one window is; its false-positive bound is the best window's bound
times the number of windows (union bound over the windows looked at). The payload reported is
the one most windows agree on (windows whose CRC failed count as detected, without a payload).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from engine.errors import EngineError
from engine.watermark.detect import Detection, detect_frames
from engine.watermark.payload import WatermarkPayload
from engine.watermark.video import WINDOW_S, read_windows

MAX_WINDOWS = 600  # 10 minutes of video: longer files are judged on their first 10 minutes


@dataclass(frozen=True)
class FileVerdict:
    kind: str  # "image" | "video"
    windows: list[Detection]

    @property
    def detected_windows(self) -> int:
        return sum(window.present for window in self.windows)

    @property
    def present(self) -> bool:
        return self.detected_windows > 0

    @property
    def detected_share(self) -> float:
        return self.detected_windows / len(self.windows)

    @property
    def false_positive_rate(self) -> float:
        best = min(window.false_positive_rate for window in self.windows)
        return min(1.0, best * len(self.windows))

    @property
    def confidence(self) -> float:
        return 1.0 - self.false_positive_rate

    @property
    def payload(self) -> WatermarkPayload | None:
        votes = Counter(window.payload for window in self.windows if window.payload is not None)
        return votes.most_common(1)[0][0] if votes else None

    def summary(self) -> dict[str, object]:
        payload = self.payload
        return {
            "kind": self.kind,
            "watermark_present": self.present,
            "payload": None
            if payload is None
            else {
                "server_id": payload.server_id,
                "stream_id": payload.stream_id,
                "hex": str(payload),
            },
            "confidence": self.confidence,
            "false_positive_rate": self.false_positive_rate,
            "windows": len(self.windows),
            "window_s": WINDOW_S if self.kind == "video" else None,
            "detected_windows": self.detected_windows,
            "detected_share": round(self.detected_share, 4),
        }


def inspect_file(path: Path) -> FileVerdict:
    """Raises EngineError(reason bad_media) for a file that is neither an image nor a video."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is not None:
        rgb = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), np.uint8)
        return FileVerdict("image", [detect_frames([rgb])])
    windows: list[Detection] = []
    try:
        for frames in read_windows(path):
            windows.append(detect_frames(frames))
            if len(windows) == MAX_WINDOWS:
                break
    except (av.FFmpegError, ValueError, IndexError) as exc:  # IndexError: no video stream
        raise EngineError(
            f"{path.name}: not a readable image or video ({exc})", "bad_media"
        ) from exc
    if not windows:
        raise EngineError(f"{path.name}: the file has no video frames", "bad_media")
    return FileVerdict("video", windows)
