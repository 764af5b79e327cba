"""``python -m lore_rag`` is the ``lore-rag`` command."""

from lore_rag.cli import main

raise SystemExit(main())
