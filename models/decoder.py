"""The decoder: (prepared avatar, batch of motion frames) -> 512x512 RGB frames.

A rig-driven image warp, not a learned network: every motion coefficient has a displacement
field built from the portrait's own landmarks (models/face_rig.py). Per frame the decoder

1. moves the rig's sample points (a coarse grid + the 478 landmarks) by the expression
   coefficients in canonical head space, then by the head pose (rotation about the head centre,
   translation, scale), giving a forward displacement on the coarse grid;
2. inverts it by fixed-point iteration into a backward sampling field and upsamples it;
3. samples the portrait (rgb + person alpha) with one 4-D grid_sample;
4. paints the mouth interior (cavity, teeth, tongue) in the gap that opens between the lip
   seam as carried by the upper jaw and the same seam carried by the lower jaw;
5. composites the person over the portrait's background, which never moves.

Avatar tensors are forward() inputs, not buffers, so one exported graph serves every avatar.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models import face_topology as ft
from models import motion_space as ms
from models.geometry import rotation_matrix_torch
from models.rig_calibration import PITCH_BIAS_RAD
from models.sampling import gather_sample_px, grid_sample_px

# Order of the avatar tensors after `motion` in FaceDecoder.forward (and in the ONNX graph).
AVATAR_INPUTS = (
    "source_motion",  # (D,)
    "source_planes",  # (1, 5, H, W) rgb + person alpha in [0, 1], eye interiors (+1 L, -1 R)
    "background",  # (1, 3, H, W) float in [0, 1]
    "points_canonical",  # (N, 3)
    "points_source_xy",  # (N, 2)
    "head_weight",  # (N, 1)
    "basis",  # (K + 1, N * 3): one field per non-rigid coefficient, then jaw closing
    "center",  # (3,)
    "mouth",  # (2,) source mouth width px, source inner-lip gap px
    "palette",  # (5, 3) teeth, cavity, tongue, left lid, right lid colours
    "seam_fit",  # (5, S) least-squares quartic through the S lip-seam points
)
SEAM_POINTS = len(ft.LIPS_INNER_UPPER)


@dataclass(frozen=True)
class DecoderConfig:
    crop_px: int = 512
    grid_size: int = 192  # must match the rig's grid
    mouth_window_cells: tuple[int, int] = (80, 96)  # (rows, cols) of the mouth-interior window
    inversion_steps: int = 4
    sampler: str = "grid_sample"  # or "gather": the same bilinear result, faster in onnxruntime


def _pixel_centres(size: int, crop_px: int) -> torch.Tensor:
    """(size, size, 2) x, y pixel coordinates (in crop pixels) of a size x size grid's cells."""
    c = (torch.arange(size, dtype=torch.float32) + 0.5) * (crop_px / size) - 0.5
    ys, xs = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xs, ys], dim=-1)


def _ramp(x: torch.Tensor, width: float) -> torch.Tensor:
    """0 for x <= 0, rising linearly to 1 at x = width: zero area when two edges coincide."""
    return torch.clamp(x / width, 0.0, 1.0)


class FaceDecoder(nn.Module):
    def __init__(self, config: DecoderConfig | None = None) -> None:
        super().__init__()
        self.config = config or DecoderConfig()
        c = self.config
        self.register_buffer("grid_px", _pixel_centres(c.grid_size, c.crop_px), persistent=False)
        crop_xy = _pixel_centres(c.crop_px, c.crop_px)  # (H, W, 2)
        self.register_buffer("crop_xy", crop_xy, persistent=False)
        rows, cols = c.mouth_window_cells
        ys, xs = torch.meshgrid(torch.arange(rows) + 0.5, torch.arange(cols) + 0.5, indexing="ij")
        # Window cell centres in units of the cell size, origin at the window's top-left corner.
        self.register_buffer(
            "window_cells", torch.stack([xs, ys], -1).reshape(-1, 2).float(), persistent=False
        )
        if c.sampler not in ("grid_sample", "gather"):
            raise ValueError(f"unknown sampler {c.sampler!r}")
        self._sample = gather_sample_px if c.sampler == "gather" else grid_sample_px
        self.jaw_index = ms.INDEX["jawOpen"]
        self.blink_indices = [ms.INDEX["eyeBlinkLeft"], ms.INDEX["eyeBlinkRight"]]
        self.close_index = ms.INDEX["mouthClose"]

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
    ) -> torch.Tensor:
        forward_px = self._forward_displacement(
            motion, source_motion, points_canonical, points_source_xy, head_weight, basis, center
        )
        g = self.config.grid_size
        batch = motion.shape[0]
        grid_fwd = (
            forward_px[:, : g * g].reshape(batch, g, g, 2).permute(0, 3, 1, 2)
        )  # (B, 2, G, G)
        seams_xy = (
            points_source_xy[-2 * SEAM_POINTS :] + forward_px[:, -2 * SEAM_POINTS :]
        )  # (B, 2S, 2): upper-jaw then lower-jaw seam
        back = self._invert(grid_fwd)  # (B, 2, G, G) px
        size = self.config.crop_px
        back_full = F.interpolate(back, size=(size, size), mode="bilinear", align_corners=False)
        where = self.crop_xy + back_full.permute(0, 2, 3, 1)  # (B, H, W, 2) px in the portrait
        layers = self._sample(source_planes.expand(batch, -1, -1, -1), where)  # (B, 5, H, W)
        rgb, alpha = self._close_lids(layers, motion, palette), layers[:, 3:4]
        mouth_rgb, mouth_alpha = self._mouth_layer(seams_xy, mouth, palette, seam_fit)
        face = rgb + (mouth_rgb - rgb) * mouth_alpha  # (B, 3, H, W); lerp is slower here
        frame = background + (face - background) * alpha
        # +0.5 then truncation rounds; values are clamped non-negative first.
        frame_u8 = (frame * 255.0 + 0.5).clamp(0.0, 255.0).to(torch.uint8)
        return frame_u8.permute(0, 2, 3, 1)  # (B, H, W, 3)

    def _close_lids(
        self, layers: torch.Tensor, motion: torch.Tensor, palette: torch.Tensor
    ) -> torch.Tensor:
        """Eye content squeezed under a closing lid takes the lid's skin colour."""
        rgb, eyes = layers[:, :3], layers[:, 4:5]  # (B, 3, H, W), (B, 1, H, W)
        closing = torch.clamp((motion[:, self.blink_indices] - 0.6) / 0.35, 0.0, 1.0)  # (B, 2)
        left = torch.relu(eyes) * closing[:, 0, None, None, None]
        right = torch.relu(-eyes) * closing[:, 1, None, None, None]
        lid_left, lid_right = palette[3][None, :, None, None], palette[4][None, :, None, None]
        return rgb + (lid_left - rgb) * left + (lid_right - rgb) * right

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
        delta = motion[:, ms.NONRIGID_SLICE] - source_motion[ms.NONRIGID_SLICE]  # (B, K)
        # Opening past the portrait tears the lips apart at the seam; closing a mouth the
        # portrait shows open compresses its interior instead (a separate rig field).
        jaw = self.jaw_index - ms.NONRIGID_SLICE.start
        delta = torch.cat(
            [
                delta[:, :jaw],
                torch.relu(delta[:, jaw : jaw + 1]),
                delta[:, jaw + 1 :],
                torch.clamp(delta[:, jaw : jaw + 1], max=0.0),
            ],
            dim=1,
        )  # (B, K + 1)
        moved = points_canonical + (delta @ basis).reshape(motion.shape[0], -1, 3)  # (B, N, 3)
        # The rig's canonical frame is the mesh's own axes, which lean back by PITCH_BIAS_RAD.
        rotation = rotation_matrix_torch(motion[:, 0], motion[:, 1] + PITCH_BIAS_RAD, motion[:, 2])
        scale = torch.exp(motion[:, 5] - source_motion[5])  # (B,)
        shift_xy = (motion[:, 3:5] - source_motion[3:5]) * self.config.crop_px  # (B, 2)
        target = scale[:, None, None] * (moved @ rotation.transpose(1, 2)) + center  # (B, N, 3)
        target_xy = target[..., :2] + shift_xy[:, None, :]
        return head_weight * (target_xy - points_source_xy)  # (B, N, 2)

    def _invert(self, forward_px: torch.Tensor) -> torch.Tensor:
        """Backward field b with x + b(x) + f(x + b(x)) = x, by fixed-point iteration."""
        back = -forward_px  # (B, 2, G, G)
        step = self.config.crop_px / self.config.grid_size  # px per grid cell
        for _ in range(self.config.inversion_steps):
            where = self.grid_px + back.permute(0, 2, 3, 1)  # (B, G, G, 2) px
            back = -grid_sample_px(forward_px, (where + 0.5) / step - 0.5)  # grid cell coords
        return back

    def _mouth_layer(
        self,
        seams_xy: torch.Tensor,
        mouth: torch.Tensor,
        palette: torch.Tensor,
        seam_fit: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mouth interior colour and coverage, (B, 3, H, W) and (B, 1, H, W).

        Painted on a small window that follows the mouth, then placed into the frame.
        """
        upper_seam, lower_seam = seams_xy[:, :SEAM_POINTS], seams_xy[:, SEAM_POINTS:]  # (B, S, 2)
        left, right = upper_seam[:, 0], upper_seam[:, -1]  # (B, 2) the mouth's inner corners
        rows, cols = self.config.mouth_window_cells
        cell_px = 1.6 * mouth[0] / cols
        window_origin = 0.5 * (left + right) - torch.stack(
            [0.8 * mouth[0], 0.35 * mouth[0]]
        )  # (B, 2) top-left corner, px
        window_xy = window_origin[:, None, :] + self.window_cells[None] * cell_px  # (B, R*C, 2)
        span = right - left
        length = torch.sqrt((span * span).sum(-1, keepdim=True)) + 1e-6  # (B, 1)
        along = span / length
        down = torch.stack([-along[:, 1], along[:, 0]], dim=-1)  # (B, 2)
        rel = window_xy - left[:, None, :]  # (B, R*C, 2)
        u = (rel * along[:, None]).sum(-1) / length  # (B, R*C), 0..1 corner to corner
        d = (rel * down[:, None]).sum(-1)  # (B, R*C) px below the corner line
        powers = torch.stack([torch.ones_like(u), u, u * u, u * u * u, u * u * u * u], dim=-1)

        def seam_depth(seam: torch.Tensor) -> torch.Tensor:  # (B, S, 2) -> (B, M*M)
            depth = ((seam - left[:, None, :]) * down[:, None, :]).sum(-1)  # (B, S)
            coefficients = depth @ seam_fit.t()  # (B, 5)
            return (powers * coefficients[:, None, :]).sum(-1)

        upper_y, lower_y = seam_depth(upper_seam), seam_depth(lower_seam)
        within = torch.clamp(u * length * 0.5, 0.0, 1.0) * torch.clamp(
            (1.0 - u) * length * 0.5, 0.0, 1.0
        )
        inside = _ramp(d - upper_y, 1.5) * _ramp(lower_y - d, 1.5) * within
        opening = torch.clamp(lower_y - upper_y, min=0.0)
        colour = self._interior_colour(u, d - upper_y, lower_y - d, opening, mouth, palette)
        layer = torch.cat([colour, inside[..., None]], dim=-1)
        layer = layer.reshape(-1, rows, cols, 4).permute(0, 3, 1, 2)  # (B, 4, R, C)
        # A one-cell zero border makes border sampling equal to "zero outside the window".
        layer = F.pad(layer, (1, 1, 1, 1))
        where = (self.crop_xy[None] - window_origin[:, None, None, :]) / cell_px + 0.5  # cells
        placed = self._sample(layer, where)  # (B, 4, H, W)
        return placed[:, :3], placed[:, 3:4]

    @staticmethod
    def _interior_colour(
        u: torch.Tensor,
        below_upper: torch.Tensor,
        above_lower: torch.Tensor,
        opening: torch.Tensor,
        mouth: torch.Tensor,
        palette: torch.Tensor,
    ) -> torch.Tensor:
        """Cavity, tongue and teeth colours at each mouth-layer pixel: (B, M*M, 3)."""
        teeth, cavity, tongue = palette[0], palette[1], palette[2]  # (3,)
        mouth_width, source_gap = mouth[0], mouth[1]
        centred = torch.clamp(1.0 - torch.abs(2.0 * u - 1.0), 0.0, 1.0)  # 1 mid-mouth, 0 corners
        # Teeth the portrait already shows move with its jaws; paint only the missing part.
        upper_h = torch.clamp(0.12 * mouth_width - 0.5 * source_gap, min=0.0)
        lower_h = torch.clamp(0.07 * mouth_width - 0.5 * source_gap, min=0.0)
        upper_teeth = _ramp(upper_h * torch.sqrt(centred) - below_upper, 1.5)
        upper_teeth = upper_teeth * _ramp(centred - 0.25, 0.2)
        lower_teeth = _ramp(lower_h * centred - above_lower, 1.5) * _ramp(centred - 0.35, 0.2)
        lower_teeth = lower_teeth * torch.clamp(
            (opening - 0.2 * mouth_width) / (0.1 * mouth_width), 0, 1
        )
        tongue_w = torch.exp(
            -(((2.0 * u - 1.0) / 0.6) ** 2)
            - ((above_lower - 0.05 * mouth_width) / (0.1 * mouth_width)) ** 2
        )
        tongue_w = tongue_w * torch.clamp(
            (opening - 0.15 * mouth_width) / (0.1 * mouth_width), 0, 1
        )
        # Light falls off into the mouth and towards its corners; under the upper lip is shadow.
        shade = (0.6 + 0.4 * centred) * (0.8 + 0.2 * _ramp(below_upper - 2.0, 4.0))
        colour = cavity * (0.6 + 0.4 * centred[..., None])
        colour = colour + (tongue * (0.6 + 0.4 * centred[..., None]) - colour) * (
            0.8 * tongue_w[..., None]
        )
        colour = colour + (teeth * 0.7 * shade[..., None] - colour) * lower_teeth[..., None]
        colour = colour + (teeth * shade[..., None] - colour) * upper_teeth[..., None]
        return colour
