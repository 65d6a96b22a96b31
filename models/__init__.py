"""PyTorch models: motion space, decoder, audio encoder, motion diffusion transformer.

May import torch and numpy only (see DESIGN.md, "Layout").
"""
