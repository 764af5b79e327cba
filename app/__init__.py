"""The lore-rag Gradio app (UI only): :func:`build_demo` builds it for a :class:`lore_rag.demo.DemoSession`.

Start it with ``lore-rag app`` or ``python -m app`` (same flags); from Python::

    from lore_rag.demo import DemoSession
    from app import build_demo, launch

    launch(build_demo(DemoSession.create()))
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

__all__ = ["build_demo", "launch"]


def __getattr__(name: str):  # lazy: importing the package must not import Gradio
    if name in __all__:
        from app import ui

        return getattr(ui, name)
    raise AttributeError(name)
