"""``python -m app [flags]`` is ``lore-rag app [flags]``."""

from __future__ import annotations

import sys

from lore_rag.cli import main

raise SystemExit(main(["app", *sys.argv[1:]]))
