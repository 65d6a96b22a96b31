"""Diffusion schedule and the few-step DDIM sampler for x0-predicting denoisers.

Continuous time t in [0, 1] with the cosine schedule (Nichol & Dhariwal): alpha_bar(0) = 1 (clean),
alpha_bar(1) ~ 0 (pure noise). The sampler is deterministic DDIM (eta = 0), so the only randomness
is the starting noise, which the caller draws from its own seeded generator. Classifier-free
guidance on audio batches the conditional and the audio-dropped call into one forward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from models.motion_dit import MotionDiT

COSINE_OFFSET = 0.008
MIN_ALPHA_BAR = 1e-5


def alpha_bar(t: torch.Tensor) -> torch.Tensor:
    """(B,) time -> (B,) signal fraction, clamped away from 0 and 1."""
    value = torch.cos((t + COSINE_OFFSET) / (1.0 + COSINE_OFFSET) * math.pi / 2) ** 2
    return value.clamp(MIN_ALPHA_BAR, 1.0)


def q_sample(clean: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Noise (B, N, M) clean motion to time t (B,)."""
    ab = alpha_bar(t)[:, None, None]  # (B, 1, 1)
    return ab.sqrt() * clean + (1.0 - ab).sqrt() * noise  # (B, N, M)


@dataclass(frozen=True)
class WindowCondition:
    """Everything but the noisy motion and the time that the denoiser sees for one window."""

    context_motion: torch.Tensor  # (B, N, M) normalized
    known: torch.Tensor  # (B, N, 1)
    audio_features: torch.Tensor  # (B, 2N, A)
    audio_keep: torch.Tensor  # (B, 1)
    controls: torch.Tensor  # (B, CONTROL_DIM)
    control_keep: torch.Tensor  # (B, CONTROL_GROUPS)
    positions: torch.Tensor  # (B, N) int64

    def doubled_for_cfg(self) -> WindowCondition:
        """Conditional batch followed by the same batch with audio dropped."""

        def twice(x: torch.Tensor) -> torch.Tensor:
            return torch.cat([x, x])

        return WindowCondition(
            context_motion=twice(self.context_motion),
            known=twice(self.known),
            audio_features=twice(self.audio_features),
            audio_keep=torch.cat([self.audio_keep, torch.zeros_like(self.audio_keep)]),
            controls=twice(self.controls),
            control_keep=twice(self.control_keep),
            positions=twice(self.positions),
        )


def predict_x0(
    model: MotionDiT, noisy: torch.Tensor, t: torch.Tensor, cond: WindowCondition
) -> torch.Tensor:
    x0: torch.Tensor = model(  # (B, N, M)
        noisy,
        cond.context_motion,
        cond.known,
        t,
        cond.audio_features,
        cond.audio_keep,
        cond.controls,
        cond.control_keep,
        cond.positions,
    )
    return x0


def forward_with_cfg(
    model: MotionDiT,
    noisy: torch.Tensor,
    t: torch.Tensor,
    doubled: WindowCondition,
    guidance_scale: float,
) -> torch.Tensor:
    """x0 guided on audio: uncond + scale * (cond - uncond), from one batched call."""
    both = predict_x0(model, torch.cat([noisy, noisy]), torch.cat([t, t]), doubled)  # (2B, N, M)
    conditional, unconditional = both.chunk(2)  # (B, N, M) each
    return unconditional + guidance_scale * (conditional - unconditional)  # (B, N, M)


@torch.no_grad()
def ddim_sample(
    model: MotionDiT,
    noise: torch.Tensor,
    cond: WindowCondition,
    steps: int,
    guidance_scale: float = 1.0,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """(B, N, M) starting noise -> (B, N, M) normalized clean motion (context slots kept).

    eta = 0 is deterministic DDIM; eta = 1 re-injects DDPM-level fresh noise at every step (drawn
    from `generator`), which keeps more of the data's unpredictable detail (blinks, jitter) when
    the number of steps is small.
    """
    batch = noise.shape[0]
    times = torch.linspace(1.0, 0.0, steps + 1, device=noise.device)  # (K + 1,)
    guided = guidance_scale != 1.0
    doubled = cond.doubled_for_cfg() if guided else replace(cond)
    x = noise  # (B, N, M)
    x0 = noise
    for k in range(steps):
        t = times[k].expand(batch)  # (B,)
        if guided:
            x0 = forward_with_cfg(model, x, t, doubled, guidance_scale)  # (B, N, M)
        else:
            x0 = predict_x0(model, x, t, cond)  # (B, N, M)
        ab_now = alpha_bar(t)[:, None, None]  # (B, 1, 1)
        ab_next = alpha_bar(times[k + 1].expand(batch))[:, None, None]  # (B, 1, 1)
        eps = (x - ab_now.sqrt() * x0) / (1.0 - ab_now).sqrt()  # (B, N, M)
        sigma = eta * ((1.0 - ab_next) / (1.0 - ab_now) * (1.0 - ab_now / ab_next)).sqrt()
        x = ab_next.sqrt() * x0 + (1.0 - ab_next - sigma**2).clamp(min=0.0).sqrt() * eps
        if eta > 0.0 and k + 1 < steps:
            # Drawn on the generator's device (the CPU), so a seed gives the same noise on any
            # device the sampler runs on.
            fresh = torch.randn(x.shape, generator=generator, device=_device_of(generator))
            x = x + sigma * fresh.to(x.device)  # (B, N, M)
    return cond.known * cond.context_motion + (1.0 - cond.known) * x0  # (B, N, M)


def _device_of(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")
