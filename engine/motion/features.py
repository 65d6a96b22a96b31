"""Streaming audio features: 16 kHz chunks of any size in, 50 Hz encoder features out.

The stream keeps the left context that the log-mel (192 samples) and the audio encoder (its
receptive field) need, and emits a feature as soon as its lookahead has arrived. `flush()` pads
the end exactly like the whole-clip path (zeros to the end of the last 40 ms motion frame, then
silence frames for the encoder's lookahead), so `clip_features()` (the stream fed one chunk) and
any chunking give the same features up to float rounding.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch

from engine.errors import AudioError
from models.audio_encoder import AudioEncoder
from models.audio_features import CONTEXT_SAMPLES, HOP_SAMPLES, LogMel, silence_log_mel

# Features come in pairs per 25 Hz motion frame; flush pads the audio to whole pairs.
PAD_MULTIPLE_SAMPLES = 2 * HOP_SAMPLES


class AudioFeatureStream:
    def __init__(self, log_mel: LogMel, encoder: AudioEncoder) -> None:
        self._log_mel = log_mel
        self._encoder = encoder
        config = encoder.config
        self._receptive_field_frames = config.receptive_field_frames
        self._lookahead_frames = config.lookahead_frames
        self._audio = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)  # context + unframed samples
        # Log-mel frames gathered until the encoder's caches can be primed; then unused.
        self._mel = torch.full(  # (1, n_mels, F)
            (1, config.n_mels, config.left_context_frames), silence_log_mel()
        )
        self._caches: list[torch.Tensor] | None = None
        self.samples_pushed = 0
        self.features_emitted = 0
        self._finished = False

    @property
    def feature_dim(self) -> int:
        return self._encoder.config.out_dim

    def push(self, chunk: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(S,) float32 audio in [-1, 1] -> (n, D) features that became complete (n may be 0)."""
        if self._finished:
            raise AudioError("audio pushed after flush()", reason="stream_finished")
        if chunk.ndim != 1 or chunk.dtype != np.float32:
            raise AudioError("audio chunks must be 1-D float32 at 16 kHz")
        if not np.isfinite(chunk).all():
            raise AudioError("audio chunk contains NaN or inf")
        self.samples_pushed += len(chunk)
        return self._push_samples(chunk)

    def flush(self) -> npt.NDArray[np.float32]:
        """End of audio: (n, D) remaining features; afterwards exactly 2 * ceil(S / 640) in all."""
        if self._finished:
            return np.zeros((0, self.feature_dim), dtype=np.float32)
        tail = -self.samples_pushed % PAD_MULTIPLE_SAMPLES
        padded = self._push_samples(np.zeros(tail, dtype=np.float32))
        silence = torch.full(  # (1, n_mels, R)
            (1, self._mel.shape[1], self._lookahead_frames), silence_log_mel()
        )
        last = self._encode(silence)
        self._finished = True
        return np.concatenate([padded, last])

    @torch.no_grad()
    def _push_samples(self, chunk: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        self._audio = np.concatenate([self._audio, chunk])
        n_frames = (len(self._audio) - CONTEXT_SAMPLES) // HOP_SAMPLES
        if n_frames <= 0:
            return np.zeros((0, self.feature_dim), dtype=np.float32)
        used = CONTEXT_SAMPLES + n_frames * HOP_SAMPLES
        audio = torch.from_numpy(self._audio[:used].copy())[None]  # (1, used)
        self._audio = self._audio[n_frames * HOP_SAMPLES :]
        return self._encode(self._log_mel(audio))  # (n, D)

    @torch.no_grad()
    def _encode(self, new_mel: torch.Tensor) -> npt.NDArray[np.float32]:
        if self._caches is None:
            self._mel = torch.cat([self._mel, new_mel], dim=2)  # (1, n_mels, F)
            primed = self._receptive_field_frames - 1
            if self._mel.shape[2] < primed:
                return np.zeros((0, self.feature_dim), dtype=np.float32)
            self._caches = self._encoder.prime_cache(self._mel[:, :, :primed])
            new_mel = self._mel[:, :, primed:]  # (1, n_mels, n)
        if new_mel.shape[2] == 0:
            return np.zeros((0, self.feature_dim), dtype=np.float32)
        features, self._caches = self._encoder.stream_step(new_mel, self._caches)  # (1, n, D)
        self.features_emitted += features.shape[1]
        out: npt.NDArray[np.float32] = features[0].numpy().astype(np.float32)
        return out


def clip_features(
    log_mel: LogMel, encoder: AudioEncoder, audio_16k: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Whole clip: (S,) float32 -> (2 * ceil(S / 640), D) features (the stream fed one chunk)."""
    stream = AudioFeatureStream(log_mel, encoder)
    return np.concatenate([stream.push(audio_16k), stream.flush()])
