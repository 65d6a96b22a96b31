"""Audio -> motion: streaming features, the sliding-window sampler, batching, clips, profiles."""
