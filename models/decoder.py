"""The decoder: (prepared avatar, batch of motion frames) -> 512x512 RGB frames.

A rig-driven image warp, not a learned network: every motion coefficient has a displacement
field built from the portrait's own landmarks (models/face_rig.py). Per frame the decoder

1. moves the rig's sample points (a coarse grid, the 478 landmarks and the lip seam) by the
   expression coefficients in canonical head space, then by the head pose (rotation about the
   head centre, translation, scale), giving a forward displacement on the coarse grid;
2. inverts it by fixed-point iteration into a backward sampling field and upsamples it;
3. samples the portrait (rgb + person alpha) with one 4-D grid_sample and composites the person
   over the portrait's background, which never moves; on the CPU in eager torch only inside
   boxes round the grid cells that move and show (or sample) the person, the rest of the frame
   being the unmoved portrait composited once per avatar (`DecoderConfig.moving_boxes`);
4. inside small windows that follow the eyes and the mouth, works in the portrait's own pixels
   (where each window pixel samples it): moves the segmented iris inside the eye opening and
   fills the sclera it uncovers, gives eye content squeezed under a closing lid the lid's
   colour, and paints the mouth interior
   (cavity, teeth, tongue) in the gap between the lip seam as carried by the upper jaw and the
   same seam carried by the lower.

Avatar tensors are forward() inputs, not buffers, so one exported graph serves every avatar.
They come either unbatched (one avatar for the whole batch: the shapes in AVATAR_INPUTS, which the
exported graph keeps) or stacked with one avatar per frame (`stack_avatars`), so one call can
render frames of different avatars: how a GPU batches the frames of many sessions.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models import face_topology as ft
from models import motion_space as ms
from models.geometry import rotation_matrix_torch
from models.rig_calibration import GAZE_X_PER_UNIT, GAZE_Y_PER_UNIT, PITCH_BIAS_RAD
from models.rig_regions import TEETH_SEAM_SHIFT
from models.sampling import (
    gather_sample_px,
    gather_sample_rows_px,
    grid_sample_rows_px,
)

# Order of the avatar tensors after `motion` in FaceDecoder.forward (and in the ONNX graph).
AVATAR_INPUTS = (
    "source_motion",  # (D,)
    # The portrait's rgb planes hold value + 0.5 so that the final cast to uint8 rounds; the
    # background is whole numbers (never resampled), which the cast keeps exactly.
    "source_planes",  # (1, 5, H, W) rgb + 0.5, person alpha 0..1, eye interiors (+1 L, -1 R)
    "background",  # (1, 3, H, W) rgb 0..255
    "points_canonical",  # (N, 3)
    "points_source_xy",  # (N, 2)
    "head_weight",  # (N, 1)
    "basis",  # (K + 1, N * 3): one field per non-rigid coefficient, then jaw closing
    "center",  # (3,)
    "mouth",  # (4,) source mouth width px, inner-lip gap px, 0..1 its upper teeth showing,
    # 0..1 how flat its art is (face_rig.flatness)
    "palette",  # (9, 3) teeth, cavity, tongue, left/right sclera, iris and lid colours, 0..1
    "seam_fit",  # (5, S) least-squares quartic through the S lip-seam points
    "eye_geometry",  # (2, 17) per eye: x0, x1, upper/lower lid quartics, lid zone, iris x, y, r,
    # drawn (1 for an eye outlined in stylised art)
)
SEAM_POINTS = len(ft.LIPS_INNER_UPPER)
# Avatar inputs whose unbatched shape already has a leading batch axis of 1.
_IMAGE_INPUTS = ("source_planes", "background")
LID_SMOOTHING = 0.6  # how far a closed lid's texture over the eyeball fades to its mean colour
IRIS_CLEAR_PX = 2.0  # the uncovered disc's margin beyond the iris radius (its limbal ring)
DRAWN_WHITE_LEVELS = 64.0  # a drawn eye's white shows what lies beside it only this near its colour
DRAWN_IRIS_TUCK = 0.5  # of its radius a drawn iris may pass under its eye's corner looking aside
LID_RAISE_LOOKING_UP = 1.0  # of the iris's rise the upper lid follows it up
LID_FOLLOWS_GAZE = 0.45  # of the opening the upper lid comes down at eyeLookY = +1
LASH_DARKNESS = 0.25  # a closed lid's lash line: this much of the lid's colour
LASH_STRENGTH = 0.9  # ... laid over the lid this strongly
LASH_HALF_WIDTH_PX = 2.5  # its half width: lashes of both lids where they meet
LID_SHADE = 0.3  # a closed lid darkens this much towards its lash line
LOWER_LID_RISE = 0.2  # of the opening the lower lid rises to meet the closing upper lid
DRAWN_SAG_RISE = 0.9  # of a drawn eye's lower outline's sag below its corners' line, it rises
LOWER_LID_ZONE = 0.25  # of the eye's width: the lower lid's skin that rises with it
TEETH_ON_ARCH = 10.0  # teeth across the front half of the arch, corner to corner
# The mouth's profiles are tabulated at this many steps from corner to corner: a fifth of a
# pixel apart on the widest mouth the window holds, so a seam looked up there does not step.
MOUTH_PROFILE_SAMPLES = 1024
LID_BAND = 0.3  # of the lid zone: lashes and lid margin slide down as one, unstretched
# Warping only where the picture can change (DecoderConfig.moving_boxes): grid cells whose
# backward field is non-zero and that show, or sample, the person. Below this alpha the person
# changes a pixel by at most a quarter level either way, under the half level that would show.
STILL_ALPHA = 0.25 / 255.0
PERSON_REACH_CELLS = 3  # cells round the person a sampled pixel can take its alpha from
BOX_BAND_CELLS = 8  # rows of grid cells per box: each band gets its own columns
BOX_MERGE_PX = 4096  # neighbouring bands merge where that adds fewer pixels than this


def stack_avatars(avatars: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Unbatched avatar tensors (one dict per frame) -> per-frame ones, stacked on a new first
    axis (images on their existing one); forward() renders frame i with avatar i."""
    return {
        name: torch.cat([a[name] for a in avatars])
        if name in _IMAGE_INPUTS
        else torch.stack([a[name] for a in avatars])
        for name in AVATAR_INPUTS
    }


@dataclass(frozen=True)
class DecoderConfig:
    crop_px: int = 512
    grid_size: int = 128  # must match the rig's grid
    inversion_steps: int = 4
    sampler: str = "grid_sample"  # or "gather": the same bilinear result, faster in onnxruntime
    # The mouth interior and closing lids are painted only inside windows (rows, cols) of output
    # pixels that follow the mouth and the eyes; the rest of the frame is one warp and one blend.
    mouth_window_px: tuple[int, int] = (128, 160)
    eye_window_px: tuple[int, int] = (64, 60)  # EYE_WINDOW_MIN_PX; for_rig sizes them per avatar
    # On the CPU in eager torch, warp only boxes round the moving person and copy the rest
    # from the portrait composited once per avatar (within a grey level of the whole-frame
    # pass; exported graphs, GPUs and stacked avatars always take the whole frame).
    moving_boxes: bool = True

    @classmethod
    def for_rig(cls, rig: Mapping[str, Any], **fields: Any) -> DecoderConfig:
        """The config for an avatar's rig: its grid, and eye windows that hold its eyes."""
        fields.setdefault("grid_size", int(rig["grid_size"]))
        fields.setdefault("eye_window_px", eye_window_for(np.asarray(rig["eye_geometry"])))
        return cls(**fields)


EYE_WINDOW_MIN_PX = (64, 60)  # rows, cols: a photographed eye's lid zone and opening, and more
EYE_WINDOW_MAX_PX = (136, 120)  # ... and at most (the eye layer's cost grows with its area)
EYE_WINDOW_MARGIN = 1.15  # room round an eye for the head coming nearer
EYE_WINDOW_PAD_PX = 8


def eye_window_for(eye_geometry: np.ndarray) -> tuple[int, int]:
    """Rows and columns of the eye windows for an avatar's eyes (eye_geometry (2, 17)): each
    window is centred between the top of the lid zone and the lower lid, and must hold both and
    the eye's corners. Stylised art draws eyes twice the height and width of a photographed
    one: in the fixed 64 x 60 windows of a photo the anime portrait's closed eye kept its
    lowest row of iris, and a clip-art eye 73 px wide its white corners."""
    u = np.linspace(0.0, 1.0, 21)[:, None] ** np.arange(5)  # (21, 5) powers along each eye
    rows, cols = 0.0, 0.0
    for eye in np.asarray(eye_geometry, np.float64):
        upper, lower = u @ eye[2:7], u @ eye[7:12]
        rows = max(rows, eye[12] + lower.max() - upper.min())
        cols = max(cols, eye[1] - eye[0])
    need = (
        8 * math.ceil((rows * EYE_WINDOW_MARGIN + EYE_WINDOW_PAD_PX) / 8),
        4 * math.ceil((cols * EYE_WINDOW_MARGIN + EYE_WINDOW_PAD_PX) / 4),
    )
    low, high = EYE_WINDOW_MIN_PX, EYE_WINDOW_MAX_PX
    return (min(max(need[0], low[0]), high[0]), min(max(need[1], low[1]), high[1]))


class _MouthTable(NamedTuple):
    """The mouth interior's profiles along the mouth (K, B, L) (_mouth_profiles) and its axes:
    the left inner corner (B, 2) px, unit vectors along and down (B, 2), the length (B, 1) px."""

    profiles: torch.Tensor
    left: torch.Tensor
    along: torch.Tensor
    down: torch.Tensor
    length: torch.Tensor


@dataclass(frozen=True)
class _Still:
    """Per avatar: the unmoved frame (1, H, W, 3) uint8, the grid cells (G, G) bool within
    PERSON_REACH_CELLS of a cell where the person shows (alpha above STILL_ALPHA), and the
    portrait's rgb and alpha planes the warp samples, channels-last: each bilinear tap reads
    one pixel's four values from one cache line, not from four planes a megabyte apart."""

    frame: torch.Tensor
    person_cells: torch.Tensor
    background: torch.Tensor  # what `frame` was composited over
    rgba: torch.Tensor  # (1, 4, H, W) in channels_last memory


def _pixel_centres(size: int, crop_px: int) -> torch.Tensor:
    """(size, size, 2) x, y pixel coordinates (in crop pixels) of a size x size grid's cells."""
    c = (torch.arange(size, dtype=torch.float32) + 0.5) * (crop_px / size) - 0.5
    ys, xs = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xs, ys], dim=-1)


def _window_offsets(size: tuple[int, int]) -> torch.Tensor:
    """(rows * cols, 2) x, y integer offsets of a window's pixels from its top-left pixel."""
    ys, xs = torch.meshgrid(torch.arange(size[0]), torch.arange(size[1]), indexing="ij")
    return torch.stack([xs, ys], dim=-1).reshape(-1, 2).float()


def _flat_index(
    pixels: torch.Tensor, width: int, channels: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, P, 2) integer x, y -> (B, P) indices into a flattened frame, and the same expanded
    over its channels (B, C, P) for gather / scatter on (B, C, H * W)."""
    index = (pixels[..., 1] * width + pixels[..., 0]).long()
    return index, index[:, None, :].expand(-1, channels, -1)


class _WindowAt:
    """Reads and writes an image's values at a window's pixels (B, P, 2): by index, or, where
    its corners are known as numbers (per frame, the top-left (x, y) of each of its rectangles
    of `size` rows and columns, in pixel order), by slicing, which spares the index tensors."""

    def __init__(
        self, pixels: torch.Tensor, size: tuple[int, int], corners: list[list[tuple[int, int]]]
    ) -> None:
        self.pixels, self.size, self.corners = pixels, size, corners

    def take(self, image: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> its values at the window's pixels (B, P, C)."""
        batch, channels, height, width = image.shape
        if not self.corners:
            index = _flat_index(self.pixels, width, channels)[1]
            return torch.gather(image.reshape(batch, channels, height * width), 2, index).transpose(
                1, 2
            )
        rows, cols = self.size
        parts = [
            torch.cat(
                [image[i, :, y : y + rows, x : x + cols].reshape(channels, -1) for x, y in c], 1
            )
            for i, c in enumerate(self.corners)
        ]
        return torch.stack(parts).transpose(1, 2)

    def put(self, image: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Writes values (B, P, C) at the window's pixels of image (B, C, H, W), in place where
        image is contiguous or sliced (returned either way)."""
        batch, channels, height, width = image.shape
        if not self.corners:
            index = _flat_index(self.pixels, width, channels)[1]
            flat = image.reshape(batch, channels, height * width)
            return flat.scatter_(2, index, values.transpose(1, 2)).reshape(image.shape)
        rows, cols = self.size
        n = rows * cols
        for i, c in enumerate(self.corners):
            for k, (x, y) in enumerate(c):
                part = values[i, k * n : (k + 1) * n].t().reshape(channels, rows, cols)
                image[i, :, y : y + rows, x : x + cols] = part
        return image


def _full_precision(device: torch.device) -> contextlib.AbstractContextManager[object]:
    """Autocast off (where a device has it): under fp16/bf16 autocast the rig's matmuls would
    place pixels (up to 512) and the lip-seam quartic in half precision, and bf16 moved lip
    edges by whole pixels. The colour mixing may still run in half precision."""
    if device.type in ("cpu", "cuda"):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


def _quartic(coefficients: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """c0 + c1 u + ... + c4 u^4 by Horner: coefficients (..., 5), u broadcast against (...)."""
    c = coefficients
    return (((c[..., 4] * u + c[..., 3]) * u + c[..., 2]) * u + c[..., 1]) * u + c[..., 0]


_LidCurves = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _lid_curves(x: torch.Tensor, geo: torch.Tensor) -> _LidCurves:
    """At columns x (B, Pe) of an eye (geo (A, Pe, 16)): upper and lower lid y, the eye's
    corner-to-corner width, 1 between its corners fading to 0 over a pixel beyond them, and u,
    how far across the eye each column lies (0 at one corner, 1 at the other)."""
    width = geo[..., 1] - geo[..., 0]
    u = (x - geo[..., 0]) / width
    up = _quartic(geo[..., 2:7], u)
    low = _quartic(geo[..., 7:12], u)
    within = torch.clamp(u * width, 0.0, 1.0) * torch.clamp((1.0 - u) * width, 0.0, 1.0)
    return up, low, width, within, u


# Powers of u = 0.5, (5, 1): a lid quartic's coefficients @ this = the lid at the eye's middle.
_HALFWAY = [[0.5**k] for k in range(5)]


def _eye_centres(
    landmarks_xy: torch.Tensor,
    source_landmarks_xy: torch.Tensor,
    eye_geometry: torch.Tensor,
    halfway: torch.Tensor,
) -> torch.Tensor:
    """(B, 2, 2) where each eye's window centres (left, right): the middle of its lid zone and
    opening (eye_geometry, source px), carried by its corners' move. A drawn eye can lie well
    below the mesh's corners, and a window round them showed its lower half unclosed."""
    # Both eyes at once: the lids' quartics at u = 0.5 are one small matmul.
    upper = eye_geometry[..., 2:7] @ halfway  # (A, 2, 1)
    lower = eye_geometry[..., 7:12] @ halfway
    middle_y = 0.5 * (upper - eye_geometry[..., 12:13] + lower)  # (A, 2, 1)
    middle_x = 0.5 * (eye_geometry[..., 0:1] + eye_geometry[..., 1:2])
    corners = list(ft.EYE_LEFT_CORNERS + ft.EYE_RIGHT_CORNERS)
    moved = landmarks_xy[:, corners] - source_landmarks_xy[:, corners]  # (B, 4, 2)
    moved = moved.reshape(-1, 2, 2, 2).mean(2)  # (B, 2, 2) each eye's corners' move
    return torch.cat([middle_x, middle_y], dim=-1) + moved


def _per_pixel(per_eye: torch.Tensor, left: torch.Tensor) -> torch.Tensor:
    """Per-eye values (A, 2, K) (left, right eye; A = 1 or B) at pixels that belong to the left
    eye where `left` (B, P) is True: (K, B, P), each value's pixels one contiguous row. The
    same values as a lerp by left (0 or 1), at a fraction of its cost on a CPU."""
    column = (~left).long()  # (B, P) 0 left eye, 1 right eye: a column of the table below
    if per_eye.shape[0] > 1:  # one table per frame: frame b's eyes are columns 2b, 2b + 1
        column = column + 2 * torch.arange(per_eye.shape[0], device=left.device)[:, None]
    table = per_eye.reshape(-1, per_eye.shape[-1]).t().contiguous()  # (K, 2A)
    picked = table.index_select(1, column.reshape(-1))
    return picked.reshape(-1, left.shape[0], left.shape[1])


def _grow_by_one(cells: torch.Tensor) -> torch.Tensor:
    """(G, G) bool, True also next to (and diagonally next to) a True cell."""
    rows = cells.clone()
    rows[1:] |= cells[:-1]
    rows[:-1] |= cells[1:]
    grown = rows.clone()
    grown[:, 1:] |= rows[:, :-1]
    grown[:, :-1] |= rows[:, 1:]
    return grown


def _area(box: tuple[int, int, int, int]) -> int:
    return (box[1] - box[0]) * (box[3] - box[2])


MOUTH_SOFT_EDGE_PX = 1.5  # the mouth interior's edge is this much wider on art that is not flat
# The mouth interior takes on the portrait's grain (a photo's noise, a painting's craquelure):
# a fixed noise pattern, its strength this many times the mean local deviation of the green
# channel round it (each pixel from its neighbours' mean, capped at MOUTH_GRAIN_CAP levels,
# so the lips' edges count little), none on flat art. A clean interior read as pasted on.
MOUTH_GRAIN_PER_DEVIATION = 0.7
MOUTH_GRAIN_CAP = 8.0


def _ramp(x: torch.Tensor, width: float | torch.Tensor) -> torch.Tensor:
    """0 for x <= 0, rising linearly to 1 at x = width: zero area when two edges coincide."""
    return torch.clamp(x / width, 0.0, 1.0)


def _teeth_profile(u: torch.Tensor) -> torch.Tensor:
    """What of the mouth interior depends only on the position along the mouth, u (1, L) 0..1
    corner to corner, the same for every avatar: (1, L, 7) the teeth rows' relative height,
    where the upper and the lower row are drawn (0..1), the teeth's shade, the share of a gap
    between teeth that shows the cavity, the tongue's extent across and the cavity's shade."""
    centred = torch.clamp(1.0 - torch.abs(2.0 * u - 1.0), 0.0, 1.0)  # 1 mid-mouth, 0 corners
    # Teeth stand round an arch seen from the front: equal steps of angle round it, so they
    # narrow towards the corners; the midline falls between the two central incisors.
    # `across` is 0 at a tooth's middle and 1 at the gaps either side of it.
    arch = torch.asin(torch.clamp(2.0 * u - 1.0, -0.999, 0.999)) * (TEETH_ON_ARCH / torch.pi)
    tooth = torch.floor(arch)
    across = torch.abs(2.0 * (arch - tooth) - 1.0)
    # No two teeth alike: a fixed pseudo-random 0..1 per tooth sets its length and shade (an
    # even row of equal teeth read as painted).
    jitter = torch.frac(torch.abs(torch.sin(tooth * 12.9898 + 0.5)) * 43758.5453)
    # A row is a band along the lip of nearly even height (incisors a little longer) that
    # reaches well towards the corners, where the molars fall into shadow. Each tooth's edge
    # is rounded (shorter towards its sides), so the row's edge is a scallop, not a ruled line.
    row_height = (0.7 + 0.3 * centred) * (1.0 - 0.14 * across**3) * (0.93 + 0.1 * jitter)
    # The gaps between teeth: the outer part of each side of a tooth, darkening softly.
    gaps = torch.clamp((across - 0.7) / 0.3, 0.0, 1.0) ** 2
    # Shaded by depth: the arch turns away into the mouth's shadow towards the corners, and
    # each tooth's rounded face darkens towards its sides and into the gaps.
    shade = (0.55 + 0.45 * torch.sqrt(centred)) * (0.93 + 0.07 * jitter)
    shade = shade * (1.0 - 0.12 * across**2) * (1.0 - 0.4 * gaps)
    # The tongue's back rises behind the lower teeth: a broad mound across the middle.
    spread = (2.0 * u - 1.0) * 1.25
    columns = [
        row_height,
        _ramp(centred - 0.12, 0.2),
        _ramp(centred - 0.2, 0.2),
        shade,
        0.4 * gaps,
        torch.clamp(1.0 - spread * spread, min=0.0),
        0.65 + 0.35 * centred,  # light falls off into the mouth and towards its corners
    ]
    return torch.stack(columns, dim=-1)


class FaceDecoder(nn.Module):
    grid_px: torch.Tensor
    grid_cells: torch.Tensor
    grid_norm: torch.Tensor
    crop_norm: torch.Tensor
    _cells: torch.Tensor

    def __init__(self, config: DecoderConfig | None = None) -> None:
        super().__init__()
        self.config = config or DecoderConfig()
        c = self.config
        if c.sampler not in ("grid_sample", "gather"):
            raise ValueError(f"unknown sampler {c.sampler!r}")
        self._sample_rows = gather_sample_rows_px if c.sampler == "gather" else grid_sample_rows_px
        self.register_buffer("grid_px", _pixel_centres(c.grid_size, c.crop_px), persistent=False)
        self.step = c.crop_px / c.grid_size  # px per grid cell
        # The grid's cells in cell units (x, y) and in grid_sample's normalised units.
        self.register_buffer("grid_cells", (self.grid_px + 0.5) / self.step - 0.5, persistent=False)
        self.register_buffer(
            "grid_norm", (self.grid_px + 0.5) * (2.0 / c.crop_px) - 1.0, persistent=False
        )
        crop_norm = (_pixel_centres(c.crop_px, c.crop_px) + 0.5) * (2.0 / c.crop_px) - 1.0
        self.register_buffer("crop_norm", crop_norm, persistent=False)  # (H, W, 2)
        self.register_buffer("mouth_offsets", _window_offsets(c.mouth_window_px), persistent=False)
        profile_u = torch.linspace(0.0, 1.0, MOUTH_PROFILE_SAMPLES)[None]  # (1, L)
        self.register_buffer("mouth_profile_u", profile_u, persistent=False)
        rows, cols = c.mouth_window_px
        noise = torch.randn(1, 1, rows * cols, generator=torch.Generator().manual_seed(0))
        self.register_buffer("mouth_grain", noise, persistent=False)  # (1, 1, Pm) N(0, 1)
        self.register_buffer("teeth_profile", _teeth_profile(profile_u), persistent=False)
        self.register_buffer("eye_offsets", _window_offsets(c.eye_window_px), persistent=False)
        self.register_buffer("halfway", torch.tensor(_HALFWAY), persistent=False)
        self.jaw_index = ms.INDEX["jawOpen"]
        self.close_index = ms.INDEX["mouthClose"]
        self.blink_indices = [ms.INDEX["eyeBlinkLeft"], ms.INDEX["eyeBlinkRight"]]
        self.gaze_indices = [ms.INDEX["eyeLookX"], ms.INDEX["eyeLookY"]]
        # Iris shift per unit of gaze, in eye widths (x, y): the estimator's calibration.
        self.register_buffer(
            "_gaze_px", torch.tensor([GAZE_X_PER_UNIT, GAZE_Y_PER_UNIT]), persistent=False
        )
        self.register_buffer("_cells", torch.arange(c.grid_size), persistent=False)
        # Per avatar, by the id of its source_planes tensor (which a backend binds once), for
        # as long as that tensor lives. (A WeakKeyDictionary would compare tensors with ==.)
        self._stills: dict[int, tuple[weakref.ref[torch.Tensor], _Still]] = {}

    def forward(
        self,
        motion: torch.Tensor,
        source_motion: torch.Tensor,
        source_planes: torch.Tensor,
        background: torch.Tensor,
        points_canonical: torch.Tensor,
        points_source_xy: torch.Tensor,
        head_weight: torch.Tensor,
        basis: torch.Tensor,
        center: torch.Tensor,
        mouth: torch.Tensor,
        palette: torch.Tensor,
        seam_fit: torch.Tensor,
        eye_geometry: torch.Tensor,
    ) -> torch.Tensor:
        # Stacked avatars carry a leading avatar axis A = B (one per frame). One avatar's
        # per-point and per-colour tensors get A = 1 here, which broadcasts over the batch; its
        # images already have it, and basis and seam_fit stay 2-D (plain matmuls).
        per_frame = source_motion.dim() == 2
        if per_frame and source_motion.shape[0] != motion.shape[0]:
            raise ValueError(
                f"{source_motion.shape[0]} stacked avatars for {motion.shape[0]} motion frames"
            )
        if not per_frame:
            source_motion, points_canonical, points_source_xy = (
                source_motion[None],
                points_canonical[None],
                points_source_xy[None],
            )
            head_weight, center, mouth, palette, eye_geometry = (
                head_weight[None],
                center[None],
                mouth[None],
                palette[None],
                eye_geometry[None],
            )
        with _full_precision(motion.device):
            forward_px = self._forward_displacement(
                motion,
                source_motion,
                points_canonical,
                points_source_xy,
                head_weight,
                basis,
                center,
            )
        moved_xy = points_source_xy + forward_px  # (B, N, 2) where every rig point goes
        g, batch, size = self.config.grid_size, motion.shape[0], self.config.crop_px
        grid_fwd = forward_px[:, : g * g].reshape(batch, g, g, 2).permute(0, 3, 1, 2)
        back = self._invert(grid_fwd)  # (B, 2, G, G) px
        landmarks = slice(g * g, g * g + ft.NUM_LANDMARKS)
        eyes_xy = _eye_centres(
            moved_xy[:, landmarks], points_source_xy[:, landmarks], eye_geometry, self.halfway
        )
        seams_xy = moved_xy[:, -2 * SEAM_POINTS :]  # (B, 2S, 2): upper-jaw then lower-jaw seam
        windows = self._window_pixels(eyes_xy, seams_xy)  # (B, Pm, 2), (B, Pe, 2)
        still = None if per_frame else self._still_for(motion, source_planes, background)
        corners = None  # of the windows, as numbers: where the windows are sliced, not indexed
        if still is None:  # the whole frame, one pass: exported graphs, GPUs, stacked avatars
            boxes = [(0, size, 0, size)]
            where_norm, frame = self._warp_box(back, source_planes[:, :4], background, boxes[0])
        else:  # only where the picture can change; the windows lie inside those boxes
            corners = self._window_corners(windows)
            boxes = self._moving_boxes(back, still.person_cells, corners)
            where_norm = back.new_empty((batch, size, size, 2))
            frame = back.new_empty((batch, 3, size, size))
            for y0, y1, x0, x1 in boxes:
                out = (where_norm[:, y0:y1, x0:x1], frame[:, :, y0:y1, x0:x1])
                self._warp_box(back, still.rgba, background, (y0, y1, x0, x1), out)
        frame = self._paint_windows(
            frame,
            where_norm,
            eyes_xy,
            seams_xy,
            motion,
            source_motion,
            source_planes,
            mouth,
            palette * 255.0 + 0.5,
            seam_fit,
            eye_geometry,
            windows,
            corners,
        )
        # Truncation rounds: sampled and painted values carry +0.5, the background is whole.
        # Contiguous (B, H, W, 3): 0.5 ms here, against ~2.5 ms for numpy or PyAV to copy a
        # strided view of a frame later (measured on one CPU thread).
        if still is None:
            return frame.to(torch.uint8).permute(0, 2, 3, 1).contiguous()
        frames = torch.empty((batch, size, size, 3), dtype=torch.uint8)
        frames.copy_(still.frame.expand(batch, -1, -1, -1))
        for y0, y1, x0, x1 in boxes:  # the same truncating cast as .to(torch.uint8)
            for channel in range(3):  # a plane at a time: half the time of one permuted copy
                frames[:, y0:y1, x0:x1, channel] = frame[:, channel, y0:y1, x0:x1]
        return frames

    def _warp_box(
        self,
        back: torch.Tensor,
        rgba: torch.Tensor,
        background: torch.Tensor,
        box: tuple[int, int, int, int],
        out: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The warped portrait over the background in output rows y0:y1, columns x0:x1 (a
        multiple of the grid's cell): where each pixel samples the portrait (B, h, w, 2, in
        grid_sample's units) and its colour (B, 3, h, w), the same values as in a whole frame;
        written into `out` where given.
        """
        y0, y1, x0, x1 = box
        size, g = self.config.crop_px, self.config.grid_size
        cell = size // g
        # The field goes to full resolution in grid_sample's normalised units, so the one
        # full-resolution pass that builds the sampling grid is the add below. A cell of
        # margin round the box (where the frame has one) gives the interpolation the same
        # neighbours, and so the same values, as over the whole grid.
        cy0, cy1 = max(y0 // cell - 1, 0), min(-(-y1 // cell) + 1, g)
        cx0, cx1 = max(x0 // cell - 1, 0), min(-(-x1 // cell) + 1, g)
        coarse = back[:, :, cy0:cy1, cx0:cx1] if (cy1 - cy0, cx1 - cx0) != (g, g) else back
        back_norm = F.interpolate(
            coarse * (2.0 / size),
            size=((cy1 - cy0) * cell, (cx1 - cx0) * cell),
            mode="bilinear",
            align_corners=False,
        )
        if (y0, y1, x0, x1) != (cy0 * cell, cy1 * cell, cx0 * cell, cx1 * cell):
            back_norm = back_norm[
                :, :, y0 - cy0 * cell : y1 - cy0 * cell, x0 - cx0 * cell : x1 - cx0 * cell
            ]
        crop_norm = (
            self.crop_norm if (y1 - y0, x1 - x0) == (size, size) else (self.crop_norm[y0:y1, x0:x1])
        )
        if (y1 - y0, x1 - x0) != (size, size):
            background = background[:, :, y0:y1, x0:x1]
        # Sampled at a contiguous grid (a quarter faster than at a buffer's strided rows).
        where_norm = crop_norm + back_norm.permute(0, 2, 3, 1)  # (B, h, w, 2)
        layers = self._sample_norm(rgba, where_norm)  # (B, 4, h, w)
        rgb, alpha = layers[:, :3], layers[:, 3:4]  # rgb + 0.5 (B, 3, h, w), alpha (B, 1, h, w)
        if out is None:
            return where_norm, torch.lerp(background, rgb, alpha)
        out[0].copy_(where_norm)  # kept in the buffer for the eye windows
        return out[0], torch.lerp(background, rgb, alpha, out=out[1])

    def _still_for(
        self, motion: torch.Tensor, source_planes: torch.Tensor, background: torch.Tensor
    ) -> _Still | None:
        """The avatar's still frame and person cells, or None where the whole frame is warped."""
        c = self.config
        if (
            not c.moving_boxes
            or motion.device.type != "cpu"
            or torch.onnx.is_in_onnx_export()
            or torch.jit.is_tracing()  # a trace would keep one batch's boxes for every call
            or c.crop_px % c.grid_size
            or c.grid_size % BOX_BAND_CELLS
        ):
            return None
        key = id(source_planes)
        known = self._stills.get(key)
        if known is not None and known[0]() is source_planes and known[1].background is background:
            return known[1]
        # Sampled at its own pixel centres the portrait gives back its own values exactly, so
        # this is the whole-frame pass wherever the backward field is zero.
        frame = torch.lerp(background, source_planes[:, :3], source_planes[:, 3:4])
        frame = frame.to(torch.uint8).permute(0, 2, 3, 1).contiguous()
        cell = c.crop_px // c.grid_size
        person = F.max_pool2d((source_planes[:, 3:4] > STILL_ALPHA).float(), cell)
        reach = PERSON_REACH_CELLS
        person = F.max_pool2d(person, 2 * reach + 1, stride=1, padding=reach)[0, 0] > 0
        rgba = source_planes[:, :4].contiguous(memory_format=torch.channels_last)
        still = _Still(frame=frame, person_cells=person, background=background, rgba=rgba)
        stills = self._stills
        self._stills[key] = (weakref.ref(source_planes, lambda _: stills.pop(key, None)), still)
        return still

    def _moving_boxes(
        self,
        back: torch.Tensor,
        person_cells: torch.Tensor,
        corners: list[list[tuple[int, int]]],
    ) -> list[tuple[int, int, int, int]]:
        """Output boxes (y0, y1, x0, x1) px outside which every frame of the batch is the still
        frame: cells the backward field moves that show or sample the person (and a cell round
        them, the upsampled field's reach), and the eye and mouth windows."""
        c = self.config
        g, cell = c.grid_size, c.crop_px // c.grid_size
        moving = (back[:, 0] != 0.0) | (back[:, 1] != 0.0)  # (B, G, G)
        steps = torch.round(back * (1.0 / cell)).long()  # (B, 2, G, G) whole cells
        sampled_x = torch.clamp(self._cells + steps[:, 0], 0, g - 1)
        sampled_y = torch.clamp(self._cells[:, None] + steps[:, 1], 0, g - 1)
        shows = person_cells[sampled_y, sampled_x] | person_cells  # (B, G, G)
        active = _grow_by_one((moving & shows).amax(0))  # (G, G)
        sizes = (c.mouth_window_px, c.eye_window_px, c.eye_window_px)
        for frame_corners in corners:
            for (x, y), (rows, cols) in zip(frame_corners, sizes, strict=True):
                bottom, right = -(-(y + rows) // cell), -(-(x + cols) // cell)  # rounded up
                active[y // cell : bottom, x // cell : right] = True
        band = BOX_BAND_CELLS
        bands = active.to(torch.uint8).reshape(g // band, band, g)  # (any: slow on bool)
        columns = bands.amax(1)  # (bands, G)
        first = columns.argmax(1)
        last = g - 1 - columns.flip(1).argmax(1)
        boxes: list[tuple[int, int, int, int]] = []
        for k, (rows, x0, x1) in enumerate(
            zip(bands.amax(2).tolist(), first.tolist(), last.tolist(), strict=True)
        ):
            if not any(rows):
                continue
            top = k * band + rows.index(1)
            bottom = k * band + band - rows[::-1].index(1)
            box = (top * cell, bottom * cell, x0 * cell, (x1 + 1) * cell)
            if boxes and boxes[-1][1] == box[0]:
                prev = boxes[-1]
                merged = (prev[0], box[1], min(prev[2], box[2]), max(prev[3], box[3]))
                if _area(merged) <= _area(prev) + _area(box) + BOX_MERGE_PX:
                    boxes[-1] = merged
                    continue
            boxes.append(box)
        return boxes

    @staticmethod
    def _window_corners(windows: tuple[torch.Tensor, torch.Tensor]) -> list[list[tuple[int, int]]]:
        """Per frame, the top-left pixel (x, y) of the mouth window and of each eye window."""
        mouth_px, eye_px = windows
        corners = torch.stack([mouth_px[:, 0], eye_px[:, 0], eye_px[:, eye_px.shape[1] // 2]], 1)
        return [[(x, y) for x, y in frame] for frame in corners.long().tolist()]

    def _sample_norm(self, image: torch.Tensor, where_norm: torch.Tensor) -> torch.Tensor:
        """Bilinear, border-padded sampling at grid_sample's normalised coordinates."""
        if self.config.sampler == "gather":
            return gather_sample_px(image, (where_norm + 1.0) * (0.5 * self.config.crop_px) - 0.5)
        image = image.expand(where_norm.shape[0], -1, -1, -1)
        return F.grid_sample(
            image, where_norm, mode="bilinear", padding_mode="border", align_corners=False
        )

    def _forward_displacement(
        self,
        motion: torch.Tensor,
        source_motion: torch.Tensor,
        points_canonical: torch.Tensor,
        points_source_xy: torch.Tensor,
        head_weight: torch.Tensor,
        basis: torch.Tensor,
        center: torch.Tensor,
    ) -> torch.Tensor:
        """Where each rig point moves, minus where it is: (B, N, 2) px."""
        # Lips cannot pass through each other: mouthClose acts only as far as the jaw is open.
        close = torch.minimum(motion[:, self.close_index], motion[:, self.jaw_index])
        motion = torch.cat(
            [motion[:, : self.close_index], close[:, None], motion[:, self.close_index + 1 :]],
            dim=1,
        )
        delta = motion[:, ms.NONRIGID_SLICE] - source_motion[:, ms.NONRIGID_SLICE]  # (B, K)
        # A closing lid is the eye layer's (it slides skin over the eye, where the inverted
        # warp smeared a collapsing eye); the warp only opens an eye wider than the portrait's.
        start = ms.NONRIGID_SLICE.start
        blink_left, blink_right = self.blink_indices[0] - start, self.blink_indices[1] - start
        assert blink_right == blink_left + 1, "the blink fields must be neighbours"
        delta = torch.cat(
            [
                delta[:, :blink_left],
                torch.clamp(delta[:, blink_left : blink_right + 1], max=0.0),
                delta[:, blink_right + 1 :],
            ],
            dim=1,
        )
        # Opening past the portrait tears the lips apart at the seam; closing a mouth the
        # portrait shows open compresses its interior instead (a separate rig field).
        jaw = self.jaw_index - ms.NONRIGID_SLICE.start
        jaw_delta = delta[:, jaw : jaw + 1]
        delta = torch.cat(
            [
                delta[:, :jaw],
                torch.relu(jaw_delta),
                delta[:, jaw + 1 :],
                torch.clamp(jaw_delta, max=0.0),
            ],
            dim=1,
        )  # (B, K + 1)
        if basis.dim() == 2:  # one avatar: a plain (B, K + 1) x (K + 1, 3N) product
            fields = delta @ basis
        else:  # one avatar per frame
            fields = torch.bmm(delta[:, None, :], basis)[:, 0]
        moved = points_canonical + fields.reshape(motion.shape[0], -1, 3)  # (B, N, 3)
        # The rig's canonical frame is the mesh's own axes, which lean back by PITCH_BIAS_RAD.
        rotation = rotation_matrix_torch(motion[:, 0], motion[:, 1] + PITCH_BIAS_RAD, motion[:, 2])
        scale = torch.exp(motion[:, 5] - source_motion[:, 5])  # (B,)
        shift_xy = (motion[:, 3:5] - source_motion[:, 3:5]) * self.config.crop_px  # (B, 2)
        # Only image x and y are needed; spelled out, because a batched (N, 3) x (3, 3) matmul
        # is several times slower on the CPU than these six products.
        r = rotation[:, :2, :, None, None] * scale[:, None, None, None, None]  # (B, 2, 3, 1, 1)
        x, y, z = moved[..., 0:1], moved[..., 1:2], moved[..., 2:3]  # (B, N, 1)
        target_x = r[:, 0, 0] * x + r[:, 0, 1] * y + r[:, 0, 2] * z  # (B, N, 1)
        target_y = r[:, 1, 0] * x + r[:, 1, 1] * y + r[:, 1, 2] * z
        target_xy = torch.cat([target_x, target_y], dim=-1) + (center[:, :2] + shift_xy)[:, None, :]
        return head_weight * (target_xy - points_source_xy)  # (B, N, 2)

    def _invert(self, forward_px: torch.Tensor) -> torch.Tensor:
        """Backward field b with x + b(x) + f(x + b(x)) = x, by fixed-point iteration."""
        c = self.config
        away = -forward_px  # (B, 2, G, G)
        back = away
        # Each step samples -f at x + b(x): one add builds the sampler's coordinates (the grid's
        # own cells or grid_sample's units, precomputed) from the field, px.
        for _ in range(c.inversion_steps):
            if c.sampler == "gather":
                cells = torch.add(self.grid_cells, back.permute(0, 2, 3, 1), alpha=1.0 / self.step)
                back = gather_sample_px(away, cells)
            else:
                where = torch.add(self.grid_norm, back.permute(0, 2, 3, 1), alpha=2.0 / c.crop_px)
                back = F.grid_sample(
                    away, where, mode="bilinear", padding_mode="border", align_corners=False
                )
        return back

    def _window_pixels(
        self, eyes_xy: torch.Tensor, seams_xy: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Integer pixel coordinates: mouth window (B, Pm, 2) and both eye windows (B, Pe, 2)."""
        c = self.config
        corners = 0.5 * (seams_xy[:, 0] + seams_xy[:, SEAM_POINTS - 1])  # (B, 2)
        mouth = self._place(corners, c.mouth_window_px, self.mouth_offsets, 0.3)
        eyes = torch.cat(
            [
                self._place(eyes_xy[:, 0], c.eye_window_px, self.eye_offsets, 0.5),
                self._place(eyes_xy[:, 1], c.eye_window_px, self.eye_offsets, 0.5),
            ],
            dim=1,
        )
        return mouth, eyes

    def _place(
        self, anchor: torch.Tensor, size: tuple[int, int], offsets: torch.Tensor, above: float
    ) -> torch.Tensor:
        """A window's pixels: `anchor` at its horizontal centre, `above` of its height down."""
        rows, cols = size
        limit = float(self.config.crop_px)
        left = torch.clamp(torch.round(anchor[:, 0:1] - 0.5 * cols), 0.0, limit - cols)  # (B, 1)
        top = torch.clamp(torch.round(anchor[:, 1:2] - above * rows), 0.0, limit - rows)
        return torch.cat([left, top], dim=1)[:, None, :] + offsets  # (B, rows * cols, 2)

    def _paint_windows(
        self,
        frame: torch.Tensor,
        where_norm: torch.Tensor,
        eyes_xy: torch.Tensor,
        seams_xy: torch.Tensor,
        motion: torch.Tensor,
        source_motion: torch.Tensor,
        source_planes: torch.Tensor,
        mouth: torch.Tensor,
        palette: torch.Tensor,
        seam_fit: torch.Tensor,
        eye_geometry: torch.Tensor,
        windows: tuple[torch.Tensor, torch.Tensor] | None = None,
        corners: list[list[tuple[int, int]]] | None = None,
    ) -> torch.Tensor:
        """Lids and irises, then the mouth interior, each painted at its own window's pixels
        (`windows`: those of _window_pixels, where the caller has them already; `corners`:
        their _window_corners, where known as numbers, to slice the frame rather than index it).

        The mouth pass reads the frame the eye pass wrote. Each eye window changes only its own
        eye (its lids' extent, its side of the eye-interior plane), so where the two windows
        overlap, between the eyes, the later one writes back what the frame already held.
        """
        batch, _, height, width = frame.shape
        mouth_px, eye_px = windows or self._window_pixels(eyes_xy, seams_xy)  # (B, P, 2)
        c = self.config
        mouth_at = _WindowAt(mouth_px, c.mouth_window_px, [f[:1] for f in corners or []])
        eyes_at = _WindowAt(eye_px, c.eye_window_px, [f[1:] for f in corners or []])

        colour = eyes_at.take(frame)  # (B, Pe, 3)
        if corners is None:
            eye_index = _flat_index(eye_px, width, 2)[0]
            source_norm = torch.gather(
                where_norm.reshape(batch, height * width, 2),
                1,
                eye_index[..., None].expand(-1, -1, 2),
            )  # (B, Pe, 2) where each eye-window pixel samples the portrait
        else:
            source_norm = eyes_at.take(where_norm.permute(0, 3, 1, 2))
        source_at = (source_norm + 1.0) * (0.5 * c.crop_px) - 0.5  # px
        with _full_precision(motion.device):
            colour = self._eye_layer(
                colour, source_at, source_planes, motion, source_motion, eye_geometry, palette
            )
        frame = eyes_at.put(frame, colour)  # frame is ours: in place

        # The grain's strength comes from the whole window's green, before it is painted.
        if corners:  # the colours are taken below, of the part that is painted
            level = self._grain_level(mouth_at.take(frame[:, 1:2])[..., 0], mouth)  # (B, 1, 1)
        else:
            colour = mouth_at.take(frame)  # (B, Pm, 3)
            level = self._grain_level(colour[..., 1], mouth)
        pattern = self.mouth_grain  # (1, 1, Pm)
        with _full_precision(motion.device):
            table = self._mouth_table(seams_xy, mouth, seam_fit)
            if corners:
                # Painted only over the rows and columns of the window the interior can
                # reach (the rest it leaves as it is): at a mid opening a fifth of the window.
                part = self._mouth_part(table, [frame_corners[0] for frame_corners in corners])
                if part is None:  # lips shut in every frame: nothing to paint
                    return frame
                rows, cols = c.mouth_window_px
                r0, r1, c0, c1 = part
                mouth_at = _WindowAt(
                    mouth_px.reshape(batch, rows, cols, 2)[:, r0:r1, c0:c1].reshape(batch, -1, 2),
                    (r1 - r0, c1 - c0),
                    [[(x + c0, y + r0)] for (x, y), *_ in corners],
                )
                colour = mouth_at.take(frame)
                pattern = pattern.reshape(rows, cols)[r0:r1, c0:c1].reshape(1, 1, -1)
            weights, inside = self._mouth_layer(mouth_at.pixels, table, mouth)
        # Channel-major (B, 3, Pm), the frame's own layout: the blend broadcasting a (B, Pm, 1)
        # weight over (B, Pm, 3) and the (Pm, 3) x (3, 3) product cost several times as much.
        grain = (level * pattern) * inside[:, None]  # (B, 1, Pm)
        colour = torch.addcmul(
            palette[:, :3].transpose(1, 2) @ weights.transpose(1, 2) + grain,
            colour.transpose(1, 2),
            (1.0 - inside)[:, None],
        )
        return mouth_at.put(frame, colour.transpose(1, 2))

    def _grain_level(self, green: torch.Tensor, mouth: torch.Tensor) -> torch.Tensor:
        """(B, 1, 1) how strong the portrait's grain is in the mouth window (times the fixed
        noise pattern mouth_grain, the grain painted there), from its green channel there
        (B, Pm) before the interior is painted (MOUTH_GRAIN_PER_DEVIATION): on every fourth row,
        each pixel's deviation from the mean of its left and right neighbours."""
        rows, cols = self.config.mouth_window_px
        sampled = green.reshape(-1, rows, cols)[:, ::4]
        deviation = sampled[..., 1:-1] - 0.5 * (sampled[..., :-2] + sampled[..., 2:])
        deviation = torch.clamp(torch.abs(deviation), max=MOUTH_GRAIN_CAP)
        # Once more capped at twice that mean: the lips' and teeth's edges count for less still.
        typical = 2.0 * deviation.mean(dim=(1, 2), keepdim=True)
        level = torch.minimum(deviation, typical).mean(dim=(1, 2))[:, None, None]
        return (MOUTH_GRAIN_PER_DEVIATION * level) * (1.0 - mouth[:, 3:4, None])

    def _eye_layer(
        self,
        colour: torch.Tensor,
        source_at: torch.Tensor,
        source_planes: torch.Tensor,
        motion: torch.Tensor,
        source_motion: torch.Tensor,
        eye_geometry: torch.Tensor,
        palette: torch.Tensor,
    ) -> torch.Tensor:
        """Eye-window colours (B, Pe, 3) with the irises moved and closing lids filled.

        Worked out at `source_at` (B, Pe, 2), the portrait pixel each window pixel shows:
        - the iris (segmented as a disc round the mesh's iris) is shown where the disc, moved
          by the gaze, now lies inside the opening: the portrait's iris, or its mean colour
          where a lid hid it; where the disc was and is no longer, the sclera next to it on the
          same row (or the sclera's colour where that lies outside the opening);
        - eye content the warp squeezes under a closing lid takes the lid's skin colour.
        """
        x, y = source_at[..., 0], source_at[..., 1]  # (B, Pe)
        # Each pixel belongs to the eye on its side of the midline between the irises (the
        # left eye is on the image's right), so where the two windows overlap they agree.
        midline = 0.5 * (eye_geometry[:, 0, 13] + eye_geometry[:, 1, 13])  # (A,)
        left = x > midline[:, None]  # (B, Pe)
        is_left = left.to(x.dtype)  # (B, Pe) 1 left eye, 0 right eye
        # Each pixel's eye: its geometry, then its sclera, iris and lid colours, picked by
        # index (_per_pixel).
        colours = palette[:, 3:9].reshape(-1, 3, 2, 3).transpose(1, 2).reshape(-1, 2, 9)
        per_eye = torch.cat([eye_geometry, colours], dim=-1)  # (A, 2, 17 + 9)
        # Value-major (26, B, Pe): each value's pixels one contiguous row, which the per-pixel
        # ops below read (geo[..., k] is that row) at a fraction of the cost of a strided one.
        per_eye = _per_pixel(per_eye, left)
        geo = per_eye[:17].permute(1, 2, 0)  # (B, Pe, 17)
        # The colours channel-major too, (B, 3, Pe), as is all colour work below: on (B, Pe, 3)
        # each op broadcasting a (B, Pe, 1) weight cost 5-8 times as much.
        sclera_colour, iris_colour, lid_colour = per_eye[17:].transpose(0, 1).chunk(3, dim=1)
        look = motion[:, self.gaze_indices] - source_motion[:, self.gaze_indices]  # (B, 2)
        # Looking up, the upper lid rises with the iris: the eye's opening stretches up over
        # the lid's lower band, which the skin above makes room for (under a still lid the
        # raised iris hid and its gaze barely showed).
        lids = _lid_curves(x, geo)
        y, raised = self._raise_lid(y, geo, lids, look[:, 1:2])
        lid_y, lid_cover, over_eye, lash = self._lid(
            y, geo, eye_geometry, lids, motion, source_motion, is_left
        )
        cx, cy, radius = geo[..., 13], geo[..., 14], geo[..., 15] + 0.5  # (A, Pe)
        # Per eye, then to its pixels: (B, Pe, 3) the iris's shift x, y and the disc it clears.
        moves = self._iris_moves(look, eye_geometry)  # (B, 2, 3)
        shift_x, shift_y, clear = _per_pixel(moves, left)
        rel_x, rel_y = x - cx, y - cy  # (B, Pe) from the portrait's iris centre
        # The sclera beside the portrait's iris on this row, on the side of this pixel, mirrored
        # across the iris's edge (so its shading runs on, not one flat sample per row).
        half_chord = torch.sqrt(torch.relu(clear * clear - rel_y * rel_y))
        side = torch.where(rel_x < 0.0, -1.0, 1.0)
        mirrored = 2.0 * half_chord + 1.0 - torch.abs(rel_x)
        sclera_x = cx + side * torch.maximum(mirrored, half_chord + 1.0)
        # Where the moved iris shows a part a lid hid in the portrait: the same part mirrored
        # across the iris's middle row, which a lid rarely hides too (its own column on the
        # middle row repeated it as vertical stripes over the iris).
        iris_x, iris_y = x - shift_x, y - shift_y
        # Sampled at: here, the moved iris, the sclera beside, the lid, the iris's mirror row.
        points_x = torch.cat([x, iris_x, sclera_x, x, iris_x], dim=1)  # (B, 5 Pe)
        points_y = torch.cat([y, iris_y, y, lid_y, 2.0 * cy - iris_y], dim=1)
        # All five planes: selecting four would copy the full-size image on every call.
        sampled = self._sample_rows(source_planes, points_x, points_y)
        # (B, 5, 5 Pe): rgb + 0.5, person alpha, eye interior; of each pixel's five samples
        # the rgb planes (:3) and the eye plane (4:), slices of contiguous rows.
        here, iris, sclera, lid, iris_row = sampled.chunk(5, dim=2)
        sign = (2.0 * is_left - 1.0)[:, None]  # (B, 1, Pe) +1 left eye, -1 right eye
        hidden = torch.lerp(iris_colour, iris_row[:, :3], torch.relu(iris_row[:, 4:] * sign))
        iris_rgb = torch.lerp(hidden, iris[:, :3], torch.relu(iris[:, 4:] * sign))
        # The sclera beside it through the disc's middle rows, its own colour towards the top
        # and bottom rows: beside those lie the lid margins, and an iris moved up or down left
        # streaks filled from them.
        # A drawn eye's sample counts only as far as it is the white's colour: near its corner
        # it fell on the outline round the opening, and mirrored drew a grey arc in the white.
        off_white = (sclera[:, :3] - sclera_colour).abs().amax(1, keepdim=True)  # (B, 1, Pe)
        white_there = torch.clamp(1.0 - off_white / DRAWN_WHITE_LEVELS, 0.0, 1.0)
        white_there = torch.lerp(torch.ones_like(white_there), white_there, geo[..., 16][:, None])
        beside = torch.relu(sclera[:, 4:] * sign) * white_there * (half_chord / clear)[:, None]
        sclera_rgb = torch.lerp(sclera_colour, sclera[:, :3], beside)

        colour = colour.transpose(1, 2)  # (B, 3, Pe)
        colour = torch.where(raised[:, None], here[:, :3], colour)
        inside = torch.relu(here[:, 4:] * sign)  # (B, 1, Pe) this eye's opening, 0..1
        moved_x, moved_y = rel_x - shift_x, rel_y - shift_y
        moved = torch.sqrt(moved_x * moved_x + moved_y * moved_y)
        new_iris = torch.clamp(radius - moved + 0.5, 0.0, 1.0)[:, None]
        old_iris = torch.clamp(clear - torch.sqrt(rel_x * rel_x + rel_y * rel_y) + 0.5, 0.0, 1.0)
        behind = torch.lerp(colour, sclera_rgb, old_iris[:, None])
        colour = torch.lerp(colour, torch.lerp(behind, iris_rgb, new_iris), inside)
        # Over the eyeball a closed lid is skin the open eye kept folded under its crease:
        # smoother than the band that slid down, so its texture fades to the lid's colour.
        # It turns away from the light as it curves down over the eyeball to its lash line: a
        # closed lid lit evenly to its margin read as a pale eyeball, the eye half open.
        # A drawn eye's closed lid is flat skin over all of the eyeball, and so is the skin its
        # risen lower lid brings up from inside the drawn opening (the sclera between the lid's
        # curve and the drawn outline).
        flat = torch.clamp(4.0 * over_eye, 0.0, 1.0)
        flat = torch.maximum(flat, torch.relu(lid[:, 4] * sign[:, 0]))
        smoothing = torch.lerp(LID_SMOOTHING * over_eye, flat, geo[..., 16])
        lid_rgb = torch.lerp(lid[:, :3], lid_colour, smoothing[:, None])
        shade = LID_SHADE * (1.0 - geo[..., 16]) * over_eye * over_eye  # drawn art is flat
        lid_rgb = lid_rgb * (1.0 - shade[:, None])
        colour = torch.lerp(colour, lid_rgb, lid_cover[:, None])
        # A closed lid's margin is a dark line of lashes where the lids meet. A painting's
        # lash line is no darker than its lid, so its closed eye showed a pale band over the
        # lower lid that read as an eye still half open.
        colour = torch.lerp(colour, LASH_DARKNESS * lid_colour, LASH_STRENGTH * lash[:, None])
        return colour.transpose(1, 2)  # (B, Pe, 3), a view of the channel-major rows

    def _iris_moves(self, look: torch.Tensor, eye_geometry: torch.Tensor) -> torch.Tensor:
        """(B, 2, 3) per eye (left, right): the iris's shift x, y in px for the gaze `look`
        (B, 2), and the radius of the disc it clears.

        Across, the iris moves the calibrated shift but stays inside the opening (its centre no
        nearer a corner than its radius; a drawn iris, often most of its eye's width, may tuck
        DRAWN_IRIS_TUCK of its radius under the corner, as art draws a sideways look). Up and
        down it moves the full calibrated shift and the upper lid follows it (_raise_lid, _lid:
        moved 0.3 of it under still lids, the gaze barely showed); as the calibration measures
        the iris against the middle of its lids (face_rig._eyes), it moves half the lid's
        travel further against the eye's corners, or it lagged behind its own lids. A drawn
        eye's lids stay.

        The disc a moved iris uncovers reaches past the segmented radius, by up to
        IRIS_CLEAR_PX as the iris moves away: a disc of just the radius left the dark limbal
        ring behind as a second, ghost iris. At rest it is the iris's own disc."""
        geo = eye_geometry  # (A, 2, 17)
        x0, x1, zone, real = geo[..., 0], geo[..., 1], geo[..., 12], 1.0 - geo[..., 16]
        width = x1 - x0  # (A, 2)
        centre_x, radius = geo[..., 13], geo[..., 15] + 0.5
        u = (centre_x - x0) / width
        opening = torch.relu(_quartic(geo[..., 7:12], u) - _quartic(geo[..., 2:7], u))
        shift = look[:, None, :] * self._gaze_px * width[..., None]  # (B, 2, 2)
        tuck = radius * (1.0 - DRAWN_IRIS_TUCK * geo[..., 16])  # a drawn iris may tuck under
        shift_x = torch.minimum(
            torch.maximum(shift[..., 0], x0 + tuck - centre_x), x1 - tuck - centre_x
        )
        look_y = look[:, 1:2]  # (B, 1)
        lid_down = LID_FOLLOWS_GAZE * torch.relu(look_y) * opening
        lid_up = LID_RAISE_LOOKING_UP * torch.relu(-look_y) * GAZE_Y_PER_UNIT * width
        lid_up = torch.minimum(lid_up, 0.8 * zone)  # as _raise_lid caps it
        shift_y = shift[..., 1] + 0.5 * (lid_down - lid_up) * real
        moved = torch.sqrt(shift_x * shift_x + shift_y * shift_y)
        clear = radius + torch.clamp(moved, max=IRIS_CLEAR_PX)
        return torch.stack([shift_x, shift_y, clear], dim=-1)

    @staticmethod
    def _raise_lid(
        y: torch.Tensor,
        geo: torch.Tensor,
        lids: _LidCurves,
        look_y: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Portrait rows to show at (x, y) with the upper lid raised for an upward gaze, and
        where they differ from y (B, Pe) bool.

        The lash line rises by LID_RAISE_LOOKING_UP of the iris's rise (at most 0.8 of the
        lid zone): the opening stretches up to it and the lid zone above compresses."""
        up, low, width, within, _ = lids
        opening = torch.relu(low - up)
        zone = geo[..., 12]
        # Most over the middle of the eye, none at its corners (as the opening tapers): a lid
        # lifted evenly to the corners moved the whole eye up, and the iris stayed put in it.
        arc = torch.clamp(opening / (0.15 * width), 0.0, 1.0)
        # A drawn eye is tall enough for its iris to move up in: its lid stays.
        lift = LID_RAISE_LOOKING_UP * torch.relu(-look_y) * GAZE_Y_PER_UNIT * width * arc * within
        lift = lift * (1.0 - geo[..., 16])
        lift = torch.minimum(lift, 0.8 * zone)  # (B, Pe) px the lash line rises
        top, lash = up - zone, up - lift
        in_zone = (y >= top) & (y < lash)
        in_eye = (y >= lash) & (y < low)
        skin_y = top + (y - top) * zone / (zone - lift)
        eye_y = up + (y - lash) * opening / torch.clamp(opening + lift, min=1e-3)
        raised = (in_zone | in_eye) & (lift > 0.0)
        return torch.where(in_zone, skin_y, torch.where(in_eye, eye_y, y)), raised

    def _lid(
        self,
        y: torch.Tensor,
        geo: torch.Tensor,
        eye_geometry: torch.Tensor,
        lids: _LidCurves,
        motion: torch.Tensor,
        source_motion: torch.Tensor,
        is_left: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Where a closing lid's skin comes from at portrait pixels (x, y): (lid y, cover,
        how far into the opening the pixel lies, 0 at the open lash line to 1 at the
        closed one, 0 outside, and the moved lash line's weight, 0..1).

        The lash line moves down by `closing` of the opening below it, and the zone of skin
        above it (most of the way to the brow) follows: closed form, at full resolution, in
        the portrait's own pixels, where the inverted warp smeared an eye collapsing to zero
        height over its coarse grid (and on a turned head left the far eye half open).
        """
        up, low, width, within, u = lids
        own = source_motion[:, self.blink_indices]  # (A, 2)
        closing = torch.clamp(
            (motion[:, self.blink_indices] - own) / torch.clamp(1.0 - own, min=0.05), 0.0, 1.0
        )  # (B, 2) of the opening the portrait shows
        # Looking down, the upper lid follows the iris down part of the way. On a blink the
        # lower lid rises a little to meet the upper (LOWER_LID_RISE of the opening); looking
        # down it stays. A drawn eye's lids do not follow the gaze, and its lower lid rises
        # by DRAWN_SAG_RISE of how far its outline sags below the line between its corners: a
        # round eye closed onto its outline was a wide U that read as an eye still open, where
        # art draws a closed eye as a line.
        look_down = motion[:, self.gaze_indices[1]] - source_motion[:, self.gaze_indices[1]]
        follow = LID_FOLLOWS_GAZE * torch.relu(look_down)[:, None]  # (B, 1)
        real = 1.0 - eye_geometry[..., 16]  # (A, 2) 0 for a drawn eye
        upper = torch.clamp(closing + follow * real, max=1.0)
        lower = closing * (LOWER_LID_RISE * real)
        drawn = closing * (DRAWN_SAG_RISE * (1.0 - real))
        per_eye = torch.stack([upper, lower, drawn], dim=-1)  # (B, 2, 3)
        closing, lower, drawn = _per_pixel(per_eye, is_left > 0.5)  # (B, Pe)
        opening = torch.relu(low - up)
        low_0 = geo[..., 7]  # the lower lid at the corners, u = 0 and 1
        low_1 = geo[..., 7:12].sum(-1)
        chord = low_0 + (low_1 - low_0) * u
        sag = torch.minimum(torch.relu(low - chord), opening)
        rise = (lower * opening + drawn * sag) * within  # (B, Pe) px the lower lid rises
        travel = torch.relu(closing * (opening + 0.5) - rise) * within  # px the lash line moves
        # The lash line and a band of lid above it (LID_BAND of the zone) move as one; the skin
        # between the band and the zone's top stretches evenly to follow.
        rigid = 1.0 - LID_BAND
        zone = geo[..., 12]
        tau = travel / (zone * rigid)
        target = (y - up + zone) / zone  # (B, Pe) 0 at the zone top, 1 at the lash line
        t = torch.where(
            target >= rigid * (1.0 + tau), target - tau * rigid, target / (1.0 + tau)
        )  # where, in zone heights from its top, this pixel's skin was
        moved = (target > 0.0) & (target <= 1.0 + tau * rigid)  # in the zone, above the lashes
        lid_y = torch.where(moved, up - zone + t * zone, y)
        cover = torch.clamp(up + travel - y + 0.5, 0.0, 1.0) * torch.clamp(travel, 0.0, 1.0)
        # The risen lower lid: its skin down to LOWER_LID_ZONE below the lid compresses up.
        low_zone = LOWER_LID_ZONE * width
        meet = low - rise
        below = (y >= meet) & (y < low + low_zone)
        lid_y = torch.where(below, low + (y - meet) * low_zone / (low_zone + rise), lid_y)
        risen = torch.clamp(y - meet + 0.5, 0.0, 1.0) * torch.clamp(rise, 0.0, 1.0) * below
        cover = torch.maximum(cover, risen)
        over_eye = torch.clamp((y - up) / torch.clamp(travel, min=1.0), 0.0, 1.0)
        # The moved lash line, a band LASH_HALF_WIDTH_PX either side of where the lids meet,
        # drawn once the lid has travelled half its way.
        lash = torch.clamp(1.0 - torch.abs(y - (up + travel - 0.5)) / LASH_HALF_WIDTH_PX, 0.0, 1.0)
        lash = lash * torch.clamp(2.0 * closing - 1.0, 0.0, 1.0) * within
        return lid_y, cover, over_eye * torch.clamp(up + travel - 1.5 - y, 0.0, 1.0), lash

    def _mouth_table(
        self, seams_xy: torch.Tensor, mouth: torch.Tensor, seam_fit: torch.Tensor
    ) -> _MouthTable:
        """The mouth's profiles along its length (_mouth_profiles) and its axes, from the moved
        lip seams (B, 2S, 2): what the interior needs beyond each pixel's own position.

        Everything that depends only on the position along the mouth (the seams, the teeth
        rows, the shading across) is worked out once per MOUTH_PROFILE_SAMPLES steps from
        corner to corner and looked up per pixel (one gather), not recomputed at every pixel.
        """
        upper_seam, lower_seam = seams_xy[:, :SEAM_POINTS], seams_xy[:, SEAM_POINTS:]  # (B, S, 2)
        left, right = upper_seam[:, 0], upper_seam[:, -1]  # (B, 2) the mouth's inner corners
        span = right - left
        length = torch.sqrt((span * span).sum(-1, keepdim=True)) + 1e-6  # (B, 1)
        along = span / length
        down = torch.stack([-along[:, 1], along[:, 0]], dim=-1)  # (B, 2)
        grid = self.mouth_profile_u  # (1, L) 0..1

        def seam_depth(seam: torch.Tensor) -> torch.Tensor:  # (B, S, 2) -> (B, L)
            depth = ((seam - left[:, None, :]) * down[:, None, :]).sum(-1)  # (B, S)
            if seam_fit.dim() == 2:  # (B, 5) quartic coefficients, evaluated by Horner
                c = depth @ seam_fit.t()
            else:
                c = torch.bmm(depth[:, None, :], seam_fit.transpose(1, 2))[:, 0]
            return _quartic(c[:, None, :], grid)

        profiles = self._mouth_profiles(
            seam_depth(upper_seam), seam_depth(lower_seam), length, mouth, self.teeth_profile, grid
        )  # (K, B, L): channel-major, so each profile comes out of the lookup contiguous
        return _MouthTable(profiles, left, along, down, length)

    def _mouth_part(
        self, table: _MouthTable, origins: list[tuple[int, int]]
    ) -> tuple[int, int, int, int] | None:
        """Rows r0:r1 and columns c0:c1 of the mouth window (the same for every frame of the
        batch, relative to each frame's window, whose top-left pixels are `origins`) outside
        which no frame's interior reaches, or None where every frame's lips are shut. The
        interior lies between the corners, below the upper seam's highest point and above the
        lower seam's lowest (_mouth_layer: its coverage is 0 past the corners, where `within`
        is, and outside the seams)."""
        profiles, left, along, down, length = table
        top = profiles[0].amin(-1, keepdim=True)  # (B, 1) px below the corners' line
        bottom = profiles[1].amax(-1, keepdim=True)
        shown = (bottom > top)[:, 0].tolist()
        ends = [left, left + along * length]  # (B, 2) each
        # The four corners of the box between the inner corners and the seams' extremes.
        quad = torch.stack([end + down * depth for end in ends for depth in (top, bottom)], 1)
        low, high = quad.amin(1).tolist(), quad.amax(1).tolist()  # (B, 2) x, y each
        rows, cols = self.config.mouth_window_px
        r0, r1, c0, c1 = rows, 0, cols, 0
        for (x, y), (lx, ly), (hx, hy), open_ in zip(origins, low, high, shown, strict=True):
            if open_:  # a pixel's margin round the box, and the one its centre may round to
                c0, c1 = min(c0, math.floor(lx) - 1 - x), max(c1, math.ceil(hx) + 2 - x)
                r0, r1 = min(r0, math.floor(ly) - 1 - y), max(r1, math.ceil(hy) + 2 - y)
        r0, r1, c0, c1 = max(r0, 0), min(r1, rows), max(c0, 0), min(c1, cols)
        return (r0, r1, c0, c1) if r1 > r0 and c1 > c0 else None

    def _mouth_layer(
        self, pixels: torch.Tensor, table: _MouthTable, mouth: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """At pixels (B, P, 2): interior palette weights (B, P, 3) already scaled by the
        coverage, and the coverage (B, P). Colour = weights @ (teeth, cavity, tongue).
        """
        profiles, left, along, down, length = table
        channels, batch, samples = profiles.shape
        # Each pixel's table column (u from corner to corner in table steps, rounded) and its
        # depth below the corner line, each as two fused multiply-adds of its x and y.
        x, y = pixels[..., 0], pixels[..., 1]  # (B, P)
        step = along * ((samples - 1) / length)  # (B, 2)
        start = 0.5 - (left * step).sum(-1, keepdim=True)  # (B, 1)
        u = torch.addcmul(torch.addcmul(start, x, step[:, 0:1]), y, step[:, 1:2])
        index = torch.clamp(u, 0.5, samples - 0.5).long()  # (B, P)
        index = index + torch.arange(batch, device=u.device)[:, None] * samples  # (B, P)
        top = -(left * down).sum(-1, keepdim=True)  # (B, 1)
        d = torch.addcmul(torch.addcmul(top, x, down[:, 0:1]), y, down[:, 1:2])  # px below
        lookup = profiles.reshape(channels, batch * samples)
        if torch.onnx.is_in_onnx_export():
            # onnxruntime gathers whole rows fast and single elements slowly (a gather along
            # the table's second axis took half the layer's time there): rows, then transpose.
            rows = lookup.t().index_select(0, index.reshape(-1))  # (B * P, K)
            at = rows.t().reshape(channels, batch, -1)  # (K, B, P)
        else:  # torch: contiguous profiles, each op on a strided one cost twice as much
            at = lookup.index_select(1, index.reshape(-1)).reshape(channels, batch, -1)
        below_upper, above_lower = d - at[0], at[1] - d
        # Drawn art's lips end in a hard line; a photo's or a painting's blend over a few px
        # (a 1.5 px edge cut the interior out like a sticker on the Mona Lisa's soft paint).
        edge_px = 1.5 + MOUTH_SOFT_EDGE_PX * (1.0 - mouth[:, 3:4])  # (A, 1)
        inside = _ramp(below_upper, edge_px) * _ramp(above_lower, edge_px) * at[2]
        weights = self._interior_weights(at, below_upper, above_lower, mouth)
        return weights * inside[..., None], inside

    @staticmethod
    def _mouth_profiles(
        upper_y: torch.Tensor,
        lower_y: torch.Tensor,
        length: torch.Tensor,
        mouth: torch.Tensor,
        teeth_profile: torch.Tensor,
        u: torch.Tensor,
    ) -> torch.Tensor:
        """Along the mouth at u (1, L), corner to corner, given the seams' depths there (B, L)
        and the fixed teeth profiles (1, L, 7, `_teeth_profile`): (11, B, L) upper and lower
        seam y, inside the corners (0..1), the upper and lower teeth rows' heights in px and
        where each is drawn (0..1), the teeth's shade, the share of the teeth's width that is
        not a gap showing the cavity, the tongue's cover and the cavity's shade.
        """
        mouth_width, source_gap, shown = mouth[:, 0:1], mouth[:, 1:2], mouth[:, 2:3]  # (A, 1)
        within = torch.clamp(u * length * 0.5, 0.0, 1.0) * torch.clamp(
            (1.0 - u) * length * 0.5, 0.0, 1.0
        )
        opening = lower_y - upper_y  # (B, L) px
        # Towards the corners the opening runs on a little below the lower seam, rounding the
        # mouth's ends: there the lower lip's corner stretches down, and a cartoon's black
        # mouth corners, drawn into it, rode down beside the lower teeth as dark patches.
        # Most a fifth of the way in from each corner, none at the corner itself (where a
        # margin reaching down to it cut the mouth's ends off square); only where the portrait
        # smiles with its teeth (dark corners beside them), as it squared off other mouths.
        centred = torch.clamp(1.0 - torch.abs(2.0 * u - 1.0), 0.0, 1.0)  # (1, L)
        rounding = (1.0 - centred) ** 2 * torch.clamp(centred / 0.25, max=1.0)
        lower_y = lower_y + (0.3 * shown) * rounding * opening.amax(-1, keepdim=True)
        # What the portrait shows between its lips moves with the jaw on its side of the seam,
        # which lies lower the more it shows its upper teeth (rig_regions._seam); paint only the
        # missing part. Upper teeth the portrait shows are the whole row (a smile shows their
        # full length). The lower row is painted at full height even where the portrait shows
        # its own (which ride down below it): without it the landmark detector read a wide
        # open cartoon mouth as barely open (0.17 mouth widths on the caricature).
        split = 0.5 + TEETH_SEAM_SHIFT * shown  # of the portrait's gap above the seam
        teeth_gap = source_gap * shown
        upper_h = torch.clamp(0.14 * mouth_width - split * teeth_gap, min=0.0) * (1.0 - shown)
        lower_h = torch.clamp(0.11 * mouth_width - (1.0 - split) * teeth_gap, min=0.0)
        # A portrait that shows no teeth between parted lips shows a dark gap (or, drawn, its
        # own mouth shape): as the jaw opens, the drawn interior takes it over up to the lips,
        # so the teeth hang from the upper lip, not from under a band of the portrait's dark.
        takeover = torch.clamp(opening / (0.1 * mouth_width), 0.0, 1.0)
        own = (source_gap - teeth_gap) * (1.0 - (2.0 * u - 1.0) ** 2) * takeover  # (B, L)
        upper_y = upper_y - split * own
        lower_y = lower_y + (1.0 - split) * own
        row_height = teeth_profile[..., 0]  # (1, L)
        # Lower teeth only once the jaw opens wide: at a mid opening the lower lip covers them.
        # The tongue shows from the first openings (a slot of bare cavity read as a hole), and
        # so do the dark gaps between teeth (in a slit they read as a zip's teeth).
        wide = torch.clamp((opening - 0.1 * mouth_width) / (0.1 * mouth_width), 0.0, 1.0)
        parted = torch.clamp((opening - 0.04 * mouth_width) / (0.1 * mouth_width), 0.0, 1.0)
        flat = mouth[:, 3:4]  # (A, 1) flat art: one tone per part, no gaps between teeth
        columns = [
            upper_y,
            lower_y,
            within,
            upper_h * row_height,
            lower_h * row_height,
            teeth_profile[..., 1],
            teeth_profile[..., 2] * wide,
            torch.lerp(teeth_profile[..., 3], torch.ones_like(flat), flat),
            1.0 - teeth_profile[..., 4] * (1.0 - flat) * parted,
            teeth_profile[..., 5] * parted,
            torch.lerp(teeth_profile[..., 6], torch.full_like(flat, 0.8), flat),
        ]
        return torch.stack(torch.broadcast_tensors(*columns))  # (K, B, L)

    @staticmethod
    def _interior_weights(
        at: torch.Tensor,
        below_upper: torch.Tensor,
        above_lower: torch.Tensor,
        mouth: torch.Tensor,
    ) -> torch.Tensor:
        """Teeth, cavity and tongue weights at each window pixel: (B, P, 3), from the mouth's
        profiles at the pixel (`at`, (11, B, P), see _mouth_profiles) and its depth below the
        upper seam and above the lower one (B, P) px.

        Layers, back to front: the cavity, the tongue, the lower teeth and the upper teeth with
        the gaps between them, each shaded; folded into one weight per palette colour so the
        colour is a single small matmul.
        """
        mouth_width = mouth[:, 0:1]  # (A, 1)
        # Flat art (mouth[3]) is drawn in flat tones: its shading gradients fade out, and the
        # tongue's edge is a drawn line rather than a soft mound.
        soft = 1.0 - mouth[:, 3:4]  # (A, 1)
        upper_edge = at[3] - below_upper  # px above the upper row's biting edge
        upper_teeth = _ramp(upper_edge, 2.0) * at[5]
        lower_teeth = _ramp(at[4] - above_lower, 2.0) * at[6]
        # The tongue's top fades out from 0.06 to 0.2 mouth widths above the lower lip: higher, a
        # big pink mound read as a second lower lip (to the eye and to the landmark detector).
        tongue_edge = 0.14 * mouth_width * soft + 1.0
        tongue_w = at[9] * _ramp(0.06 * mouth_width + tongue_edge - above_lower, tongue_edge)
        # The roof of the mouth behind the upper teeth lies in their shadow, and they cast a
        # soft one on the tongue below their edge (a tongue shaded as deep as the roof read as
        # one dark crescent).
        # One ramp below the upper row's edge serves both (upper_edge < 0 there).
        out_of_shadow = _ramp(upper_edge, -0.1 * mouth_width)
        roof = torch.addcmul(1.0 - 0.2 * soft, out_of_shadow, 0.2 * soft)
        tongue_shade = torch.addcmul(1.0 - 0.3 * soft, out_of_shadow, 0.3 * soft)
        # The upper lip shades the upper row's top, and its biting edge is a little
        # translucent (the cavity shows through), so the row does not end in a hard line.
        lip_shadow = torch.addcmul(
            1.0 - 0.22 * soft, _ramp(below_upper - 0.5, 0.04 * mouth_width + 1.0), 0.22 * soft
        )
        see_edge = upper_teeth * _ramp(upper_edge - 3.5, -2.5) * (0.25 * soft)
        lower_only = lower_teeth * (1.0 - upper_teeth)
        teeth_cover = upper_teeth + lower_only
        lit = upper_teeth - see_edge + 0.85 * lower_only  # the lower row in shadow
        teeth = at[7] * lip_shadow * lit
        # A gap between teeth (at[8]: the share of a tooth's width that is tooth), and a
        # translucent edge, show part of the cavity's colour.
        back = at[10] * (1.0 - teeth_cover * at[8] + see_edge)
        cavity = back * roof * (1.0 - tongue_w)
        return torch.stack([teeth, cavity, back * tongue_shade * tongue_w], dim=-1)
