#!/usr/bin/env bash
# One command from a fresh clone: install lore-rag and run the default pipeline offline:
# raw all-MiniLM-L6-v2 vs InfoNCE vs LORE, trained on the bundled data, evaluated on the bundled HotpotQA set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh none
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec "${LORE_VENV:-.venv}/bin/lore-rag" train "$@"
