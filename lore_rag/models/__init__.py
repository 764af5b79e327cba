"""Encoders and checkpoints."""
