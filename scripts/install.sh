#!/usr/bin/env bash
# Create (or reuse) the virtual environment and install lore-rag into it.
#   bash scripts/install.sh [EXTRAS]      EXTRAS defaults to "all" (llama-index, langchain, app, llm, dev); "none" for the core only
# Every install goes through constraints.txt: it pins torch==2.13.0 (the CPU build; any other version pulls
# several GB of CUDA), langchain-core and llama-cpp-python (whose ~7-minute source build pip then caches).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all}"
venv="${LORE_VENV:-.venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
start=$(date +%s)
target="."
[ "$extras" = none ] || target=".[${extras}]"
"$venv/bin/python" -m pip install -q -c constraints.txt -e "$target" 2>&1 | grep -v "^WARNING: Location" || true
"$venv/bin/python" -c "import lore_rag, torch; print(f'lore-rag {lore_rag.__version__} installed with torch {torch.__version__} in $venv ($(( $(date +%s) - start ))s)')"
