"""Query-encoder fine-tuning."""
