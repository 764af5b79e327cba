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
find_links=()
case ",$extras," in
  *,all,*|*,llm,*)
    # llama-cpp-python compiles llama.cpp. Its default -march=native build uses every instruction the CPU lists,
    # and some machines list ones the kernel does not enable (AMX here: the server dies with SIGILL on its first
    # request). On x86-64 build a portable AVX2 wheel instead, once, into a wheelhouse named by those flags (pip's
    # own wheel cache would hand back a native build), and install from there.
    if [ "$(uname -m)" = x86_64 ]; then
      llama_version="$(sed -n 's/^llama-cpp-python==//p' constraints.txt)"
      wheelhouse="${LORE_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/lore-rag/wheels}/llama-cpp-avx2"
      if ! ls "$wheelhouse"/llama_cpp_python-"$llama_version"-*.whl >/dev/null 2>&1; then
        echo "building llama-cpp-python $llama_version (portable AVX2, about 7 minutes, once) into $wheelhouse"
        CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
          "$venv/bin/python" -m pip wheel -q --no-deps --no-cache-dir -w "$wheelhouse" "llama-cpp-python==$llama_version"
        # A venv that already holds a native build gets the portable one.
        "$venv/bin/python" -m pip install -q --no-deps --force-reinstall "$wheelhouse"/llama_cpp_python-"$llama_version"-*.whl
      fi
      find_links=(--find-links "$wheelhouse")
    fi
    ;;
esac
"$venv/bin/python" -m pip install -q -c constraints.txt "${find_links[@]}" -e "$target" 2>&1 | grep -v "^WARNING: Location" || true
"$venv/bin/python" -c "import lore_rag, torch; print(f'lore-rag {lore_rag.__version__} installed with torch {torch.__version__} in $venv ($(( $(date +%s) - start ))s)')"
