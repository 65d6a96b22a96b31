"""Motion: streaming audio features, the sliding-window sampler, profiles, retargeting, exports."""
