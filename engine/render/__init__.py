"""Prepared avatar + motion -> frames: the renderer, previews and the ONNX decoder."""
