"""Small UI pieces of the app: pure functions from lore_rag.demo results to HTML and table rows."""
