"""``python -m app``: a launcher for ``lore-rag app`` (same flags).

The UI itself is :mod:`lore_rag.demo.ui`::

from lore_rag.demo import DemoSession
from lore_rag.demo.ui import build_demo, launch

launch(build_demo(DemoSession.create()))
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

__all__ = ["build_demo", "launch"]


def __getattr__(name: str):  # lazy: importing the package must not import Gradio
    if name in __all__:
        from lore_rag.demo import ui

        return getattr(ui, name)
    raise AttributeError(name)
