"""The Gradio UI of ``lore-rag app``: :func:`build_demo` builds it for a :class:`lore_rag.demo.DemoSession`.

Importing this package imports Gradio (``pip install 'lore-rag[app]'``); :mod:`lore_rag.demo` itself does not.
From Python::

    from lore_rag.demo import DemoSession
    from lore_rag.demo.ui import build_demo, launch

    launch(build_demo(DemoSession.create()))
"""

from lore_rag.demo.ui.blocks import CSS, DEFAULT_MAX_UPLOAD_MB, build_demo, default_server_files, launch, upload_folder

__all__ = ["CSS", "DEFAULT_MAX_UPLOAD_MB", "build_demo", "default_server_files", "launch", "upload_folder"]
