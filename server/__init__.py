"""HTTP/WebRTC server and the `gioconda` CLI. Imports engine, never torch."""
