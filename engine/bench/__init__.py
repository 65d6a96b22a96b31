"""Benchmarks: numbers measured on this machine (the command line lives in server/commands)."""
