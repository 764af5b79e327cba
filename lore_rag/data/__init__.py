"""Tiered LORE data: schema, JSONL io, converters and the builder."""
