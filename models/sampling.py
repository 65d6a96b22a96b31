"""Bilinear sampling in pixel coordinates, two ways that give the same result.

`grid_sample` is torch's native kernel (fastest in torch). `gather_sample` spells bilinear
interpolation out with index gathers, which onnxruntime's CPU kernels run several times faster
than its GridSample. Both use border padding: coordinates are clamped into the image first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def grid_sample_px(image: torch.Tensor, where_px: torch.Tensor) -> torch.Tensor:
    """image (B, C, H, W), where_px (B, H', W', 2) as x, y pixel centres -> (B, C, H', W')."""
    height, width = image.shape[-2], image.shape[-1]
    scale = torch.tensor([2.0 / width, 2.0 / height], dtype=where_px.dtype)
    norm = (where_px + 0.5) * scale - 1.0
    return F.grid_sample(image, norm, mode="bilinear", padding_mode="border", align_corners=False)


def gather_sample_px(image: torch.Tensor, where_px: torch.Tensor) -> torch.Tensor:
    """Same contract and result as grid_sample_px, built from gathers."""
    batch, channels, height, width = image.shape
    out_h, out_w = where_px.shape[1], where_px.shape[2]
    x = where_px[..., 0].clamp(0.0, width - 1.0).reshape(batch, 1, -1)  # (B, 1, N)
    y = where_px[..., 1].clamp(0.0, height - 1.0).reshape(batch, 1, -1)
    x0, y0 = torch.floor(x), torch.floor(y)
    wx, wy = x - x0, y - y0
    x0i, y0i = x0.long(), y0.long()
    x1i = torch.clamp(x0i + 1, max=width - 1)
    y1i = torch.clamp(y0i + 1, max=height - 1)
    flat = image.reshape(batch, channels, height * width)  # (B, C, HW)

    def take(yi: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
        index = (yi * width + xi).expand(batch, channels, -1)  # (B, C, N)
        return torch.gather(flat, 2, index)

    top = take(y0i, x0i) + (take(y0i, x1i) - take(y0i, x0i)) * wx
    bottom = take(y1i, x0i) + (take(y1i, x1i) - take(y1i, x0i)) * wx
    return (top + (bottom - top) * wy).reshape(batch, channels, out_h, out_w)
