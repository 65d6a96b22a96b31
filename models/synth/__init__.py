"""Synthetic training data for the motion model: espeak-ng speech with phoneme timings turned into
coarticulated mouth motion, prosody-linked head motion, blinks, gaze shifts and emotion offsets.

Imports numpy and the standard library only (soxr lazily, for resampling); libespeak-ng via
ctypes.
"""
