"""Offline work: export, training, data extraction and motion evaluation."""
