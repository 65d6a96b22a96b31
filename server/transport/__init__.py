"""Transports: WebRTC and the agent frameworks' outputs, sharing one media clock and label."""
