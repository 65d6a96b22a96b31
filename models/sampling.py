"""Bilinear sampling in pixel coordinates, two ways that give the same result.

`grid_sample_px` is torch's native kernel (fastest in torch). The gather samplers spell
bilinear interpolation out with index gathers, which onnxruntime's CPU kernels run several times
faster than its GridSample. Each takes points as (B, H', W', 2) or, in its `_rows_` form, as
separate x and y rows (B, N). All use border padding (coordinates are clamped into the image
first) and accept an image batch of 1 (shared by every output) or of the positions' batch size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

RowsSampler = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _at_points(
    sample_rows: RowsSampler, image: torch.Tensor, where_px: torch.Tensor
) -> torch.Tensor:
    """A rows sampler at (B, H', W', 2) points -> (B, C, H', W')."""
    batch, out_h, out_w = where_px.shape[0], where_px.shape[1], where_px.shape[2]
    x, y = where_px[..., 0].reshape(batch, -1), where_px[..., 1].reshape(batch, -1)  # (B, N)
    return sample_rows(image, x, y).reshape(batch, image.shape[1], out_h, out_w)


def grid_sample_px(image: torch.Tensor, where_px: torch.Tensor) -> torch.Tensor:
    """image (1 or B, C, H, W), where_px (B, H', W', 2) as x, y pixel centres -> (B, C, H', W')."""
    return _at_points(grid_sample_rows_px, image, where_px)


def grid_sample_rows_px(
    image: torch.Tensor, x_px: torch.Tensor, y_px: torch.Tensor
) -> torch.Tensor:
    """image (1 or B, C, H, W), x_px and y_px (B, N) pixel centres -> (B, C, N). Each coordinate
    is normalised on its own contiguous row: the same sums on interleaved (B, N, 2) points cost
    several times as much."""
    height, width = image.shape[-2], image.shape[-1]
    grid = torch.stack(
        [(x_px + 0.5) * (2.0 / width) - 1.0, (y_px + 0.5) * (2.0 / height) - 1.0], -1
    )
    image = image.expand(x_px.shape[0], -1, -1, -1)  # a view, no copy
    sampled = F.grid_sample(
        image, grid[:, None], mode="bilinear", padding_mode="border", align_corners=False
    )
    return sampled[:, :, 0]


def gather_sample_px(image: torch.Tensor, where_px: torch.Tensor) -> torch.Tensor:
    """Same contract and result as grid_sample_px, built from one-dimensional gathers."""
    return _at_points(gather_sample_rows_px, image, where_px)


def gather_sample_rows_px(
    image: torch.Tensor, x_px: torch.Tensor, y_px: torch.Tensor
) -> torch.Tensor:
    """Same contract and result as grid_sample_rows_px, built from one-dimensional gathers."""
    image_batch, channels, height, width = image.shape
    batch = x_px.shape[0]
    x = x_px.clamp(0.0, width - 1.0)  # (B, N)
    y = y_px.clamp(0.0, height - 1.0)
    x0, y0 = torch.floor(x), torch.floor(y)
    wx, wy = (x - x0)[:, None], (y - y0)[:, None]  # (B, 1, N)
    x0i, y0i = x0.long(), y0.long()
    x1i = torch.clamp(x0i + 1, max=width - 1)
    y1i = torch.clamp(y0i + 1, max=height - 1)
    # One row per pixel (channels contiguous), every image's pixels stacked: one row gather
    # serves the whole batch.
    flat = image.permute(0, 2, 3, 1).reshape(image_batch * height * width, channels)
    if image_batch > 1:
        base = (torch.arange(batch, device=image.device) * (height * width))[:, None]  # (B, 1)
    else:
        base = torch.zeros((batch, 1), dtype=torch.long, device=image.device)

    def take(yi: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:  # -> (B, C, N)
        rows = flat.index_select(0, (base + yi * width + xi).reshape(-1))  # (B*N, C)
        return rows.reshape(batch, -1, channels).transpose(1, 2)

    top_left, top_right = take(y0i, x0i), take(y0i, x1i)
    bottom_left, bottom_right = take(y1i, x0i), take(y1i, x1i)
    top = top_left + (top_right - top_left) * wx
    bottom = bottom_left + (bottom_right - bottom_left) * wx
    return top + (bottom - top) * wy
