"""Kept for scripts written before the UI moved into the library: use :mod:`lore_rag.demo.ui` instead."""

from lore_rag.demo.ui.blocks import (  # noqa: F401 - re-exported, private helpers included, for old imports
    CSS,
    DEFAULT_MAX_UPLOAD_MB,
    _header,
    _stream,
    build_demo,
    default_server_files,
    launch,
    upload_folder,
)

__all__ = ["CSS", "DEFAULT_MAX_UPLOAD_MB", "build_demo", "default_server_files", "launch", "upload_folder"]
