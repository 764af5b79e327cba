"""Retrieval metrics: paper protocol, corpus-wide, QA."""
