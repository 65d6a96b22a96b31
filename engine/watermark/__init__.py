"""Invisible watermark: a payload (server and stream id) in every frame, and its detector."""
