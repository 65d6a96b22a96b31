"""A thin wrapper over MediaPipe "solutions" graphs: face boxes, 478 face landmarks, person mask.

`find_faces` combines them to find every face in a picture, however small. Creating a graph
costs time, so one `FaceModels` keeps its graphs and reuses them; `face_models()` returns a
process-wide instance. MediaPipe graphs are not thread-safe: every call holds a lock.
All coordinates are in pixels of the image passed in (x right, y down).
"""

from __future__ import annotations

import os

# Set before mediapipe is imported: its C++ logging reads these once, at load time.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import contextlib  # noqa: E402 - the environment above must be set first
import functools  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from engine.avatar.image_io import (  # noqa: E402
    Float32Array,
    RGBImage,
    apply_transform,
    square_transform,
    warp_square,
)
from engine.errors import AvatarError  # noqa: E402

try:
    import mediapipe as mp  # noqa: E402
except ImportError as exc:  # an agent environment: Pipecat/LiveKit need protobuf>=5
    raise AvatarError(
        "preparing a portrait needs MediaPipe, which this environment lacks: "
        "pip install 'gioconda[portraits]' (it cannot share an environment with Pipecat or "
        "LiveKit: prepare there with `gioconda prepare IMAGE -o NAME.avatar.npz` and load the "
        "file here)",
        "prepare_unavailable",
    ) from exc

LANDMARK_MODEL = f"mediapipe-{mp.__version__} face_mesh refine"
DETECTION_MIN_CONFIDENCE = 0.5
MESH_MIN_CONFIDENCE = 0.5
MAX_FACES_COUNTED = 4  # enough to say "several"; more graphs cost time
TILE_MIN_PX = 320  # the full-range detector sees faces down to ~5% of its input: ~16 px here
MAX_TILES = 120  # ~0.6 s of detection, spent only when the whole image shows no face
SURE_DETECTION_SCORE = 0.75  # a face no mesh fits on still counts above this score
BOX_CROP_PX = 256  # the mesh finds faces over ~11% of its input: a box crop makes them ~40%
BOX_CROP_SIDE_PER_WIDTH = 2.5
_FULL_RANGE, _SHORT_RANGE = 1, 0  # face_detection model_selection values


@dataclass(frozen=True)
class FaceBox:
    """An axis-aligned face box in pixels, with the detector's confidence."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0


def box_of_points(points_px: Float32Array, score: float = 1.0) -> FaceBox:
    """The bounding box of an (N, 2+) array of pixel coordinates."""
    x0, y0 = points_px[:, :2].min(axis=0)
    x1, y1 = points_px[:, :2].max(axis=0)
    return FaceBox(float(x0), float(y0), float(x1), float(y1), score)


class FaceModels:
    """MediaPipe face detection, face mesh and selfie segmentation, created lazily and kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._graphs: dict[tuple[str, int], Any] = {}

    def detect_faces(self, rgb: RGBImage, *, short_range: bool = True) -> list[FaceBox]:
        """Face boxes from the full-range (and short-range) detector, duplicates merged."""
        boxes: list[FaceBox] = []
        for selection in (_FULL_RANGE, _SHORT_RANGE) if short_range else (_FULL_RANGE,):
            for box in self._detect(rgb, selection):
                if not any(_same_face(box, kept) for kept in boxes):
                    boxes.append(box)
        return boxes

    def face_landmarks(self, rgb: RGBImage, max_faces: int = 1) -> list[Float32Array]:
        """Up to max_faces (478, 3) float32 arrays: x, y in pixels, z = MediaPipe z * width."""
        height, width = rgb.shape[:2]
        result = self._process(("mesh", max_faces), rgb)
        scale = np.array([width, height, width], np.float32)
        return [
            np.array([(p.x, p.y, p.z) for p in face.landmark], np.float32) * scale
            for face in result.multi_face_landmarks or []
        ]

    def person_mask(self, rgb: RGBImage) -> Float32Array:
        """(H, W) float32 in [0, 1]: the probability that a pixel belongs to a person."""
        mask = self._process(("segment", 0), rgb).segmentation_mask
        return np.clip(np.asarray(mask, np.float32), 0.0, 1.0)

    def close(self) -> None:
        """Release the graphs; the next call creates them again. Safe to call twice."""
        with self._lock:
            for graph in self._graphs.values():
                graph.close()
            self._graphs = {}

    def _detect(self, rgb: RGBImage, selection: int) -> list[FaceBox]:
        height, width = rgb.shape[:2]
        boxes = []
        for detection in self._process(("detect", selection), rgb).detections or []:
            rel = detection.location_data.relative_bounding_box
            x0, y0 = rel.xmin * width, rel.ymin * height
            x1, y1 = x0 + rel.width * width, y0 + rel.height * height
            boxes.append(FaceBox(x0, y0, x1, y1, float(detection.score[0])))
        return boxes

    def _process(self, key: tuple[str, int], rgb: RGBImage) -> Any:
        rgb = _contiguous(rgb)
        with self._lock:
            if key in self._graphs:
                return self._graphs[key].process(rgb)
            with _quiet_stderr():  # a graph logs as it starts and on its first results
                self._graphs[key] = _new_graph(*key)
                return self._graphs[key].process(rgb)


def _new_graph(kind: str, option: int) -> Any:
    if kind == "mesh":
        return mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            refine_landmarks=True,
            max_num_faces=option,
            min_detection_confidence=MESH_MIN_CONFIDENCE,
        )
    if kind == "detect":
        return mp.solutions.face_detection.FaceDetection(
            model_selection=option, min_detection_confidence=DETECTION_MIN_CONFIDENCE
        )
    return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=option)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send fd 2 to /dev/null while graphs start: MediaPipe's C++ logs there before absl is
    initialised, ignoring GLOG_minloglevel. Process-wide, so kept to graph creation only."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@dataclass(frozen=True)
class FoundFace:
    """One face in an image: its box, and its landmarks where the mesh could fit them."""

    box: FaceBox
    landmarks_px: Float32Array | None  # (478, 3) float32; None: a sure detection, no mesh fit


def find_faces(models: FaceModels, rgb: RGBImage) -> list[FoundFace]:
    """Every face the mesh or either detector sees; small faces are searched tile by tile.

    The mesh misses faces under ~11% of the image width and the detectors miss some paintings
    and cartoons, so the union of both is counted. A detector-only face is confirmed by fitting
    the mesh on a crop around it, or else kept only when the detector is sure.
    """
    found = [FoundFace(box_of_points(m), m) for m in models.face_landmarks(rgb, MAX_FACES_COUNTED)]
    boxes = models.detect_faces(rgb)
    if not found and not boxes:
        boxes = detect_faces_tiled(models, rgb)
    for box in boxes:
        if not any(_same_face(box, face.box) for face in found):
            confirmed = _confirmed_face(models, rgb, box)
            if confirmed is not None:
                found.append(confirmed)
    return found


def landmarks_in_box(models: FaceModels, rgb: RGBImage, box: FaceBox) -> Float32Array | None:
    """Landmarks (source pixels) fitted on a square crop around a detector's face box."""
    centre = ((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)
    side = BOX_CROP_SIDE_PER_WIDTH * max(box.width, box.y1 - box.y0)
    to_crop = square_transform(centre, side, 0.0, BOX_CROP_PX)
    meshes = models.face_landmarks(warp_square(rgb, to_crop, BOX_CROP_PX), max_faces=1)
    if not meshes:
        return None
    return apply_transform(np.asarray(cv2.invertAffineTransform(to_crop), np.float64), meshes[0])


def _confirmed_face(models: FaceModels, rgb: RGBImage, box: FaceBox) -> FoundFace | None:
    landmarks = landmarks_in_box(models, rgb, box)
    if landmarks is not None:
        return FoundFace(box_of_points(landmarks, box.score), landmarks)
    return FoundFace(box, None) if box.score >= SURE_DETECTION_SCORE else None


def detect_faces_tiled(models: FaceModels, rgb: RGBImage) -> list[FaceBox]:
    """Full-range detection on half-overlapping tiles: finds faces down to ~5% of a tile."""
    height, width = rgb.shape[:2]
    tile = TILE_MIN_PX
    while _tile_count(width, tile) * _tile_count(height, tile) > MAX_TILES:
        tile = int(tile * 1.25)
    boxes: list[FaceBox] = []
    for y0 in _tile_starts(height, tile):
        for x0 in _tile_starts(width, tile):
            for box in _whole_faces_in_tile(models, rgb, (x0, y0), tile):
                if not any(_same_face(box, kept) for kept in boxes):
                    boxes.append(box)
    return boxes


def _whole_faces_in_tile(
    models: FaceModels, rgb: RGBImage, origin: tuple[int, int], tile: int
) -> list[FaceBox]:
    """A face cut by a tile edge is skipped: the half-overlapping neighbour holds it whole."""
    height, width = rgb.shape[:2]
    x0, y0 = origin
    x1, y1 = min(x0 + tile, width), min(y0 + tile, height)
    whole = []
    for box in models.detect_faces(rgb[y0:y1, x0:x1], short_range=False):
        moved = FaceBox(box.x0 + x0, box.y0 + y0, box.x1 + x0, box.y1 + y0, box.score)
        margin = 0.1 * moved.width
        cut_x = (x0 > 0 and moved.x0 < x0 + margin) or (x1 < width and moved.x1 > x1 - margin)
        cut_y = (y0 > 0 and moved.y0 < y0 + margin) or (y1 < height and moved.y1 > y1 - margin)
        if not (cut_x or cut_y):
            whole.append(moved)
    return whole


@functools.cache
def face_models() -> FaceModels:
    """The process-wide FaceModels (graphs are created on first use)."""
    return FaceModels()


def _same_face(a: FaceBox, b: FaceBox) -> bool:
    """Boxes from different models for one face differ in size: compare centres and overlap."""
    dx = (a.x0 + a.x1 - b.x0 - b.x1) / 2
    dy = (a.y0 + a.y1 - b.y0 - b.y1) / 2
    if np.hypot(dx, dy) < 0.5 * max(a.width, b.width):
        return True
    overlap_x = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    overlap_y = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    smaller = min(a.width * (a.y1 - a.y0), b.width * (b.y1 - b.y0))
    return overlap_x * overlap_y > 0.5 * smaller


def _tile_count(length: int, tile: int) -> int:
    return len(_tile_starts(length, tile))


def _tile_starts(length: int, tile: int) -> list[int]:
    if length <= tile:
        return [0]
    stride = tile // 2
    starts = list(range(0, length - tile, stride))
    return [*starts, length - tile]


def _contiguous(rgb: RGBImage) -> RGBImage:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    return np.ascontiguousarray(rgb)
