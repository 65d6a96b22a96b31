"""Small clients of the server's own API (speech, WebRTC, benchmarks)."""
