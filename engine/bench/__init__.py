"""Benchmarks: numbers measured on this machine (their flags live in server/commands)."""
