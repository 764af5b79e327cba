#!/usr/bin/env bash
# GPU check of the LORE trainer (issue 11), about 5-8 minutes on one GPU. Prints one Markdown table for the README:
#   - steps/s of full fine-tuning in fp32 and bf16 (default model, bundled data, batch 32, anchor on)
#   - LoRA (r 16) vs full fine-tuning: peak GPU memory and steps/s
#   - the 2-process DDP run (torchrun): on one GPU both ranks cannot share it under NCCL, so it runs on CPU (gloo),
#     as CI does; with 2+ GPUs it runs on the GPUs.
# Usage: bash benchmarks/gpu_check.sh [STEPS]     (run from the repository root, python env with lore-rag installed)
set -euo pipefail
STEPS="${1:-40}"
PY="${PYTHON:-python}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false LORE_RAG_HOME="$WORK/home"

"$PY" - "$STEPS" "$WORK" <<'PYEOF'
import json, sys, time
from pathlib import Path
import torch
from lore_rag.training import TrainConfig, train

steps, work = int(sys.argv[1]), Path(sys.argv[2])
if not torch.cuda.is_available():
    sys.exit("no CUDA GPU visible: this script measures GPU training; see the README for the CPU figures")
name = torch.cuda.get_device_name(0)
cache = work / "cache"
rows = []

def run(label, **kw):
    torch.cuda.reset_peak_memory_stats()
    cfg = TrainConfig(output_dir=str(work / label.replace(" ", "-")), cache_dir=str(cache), max_steps=steps,
                      save_steps=None, resume=False, show_progress=False, device="cuda", **kw)
    result = train(cfg)
    rows.append((label, steps / result.timings["steps"], torch.cuda.max_memory_allocated() / 2**20,
                 result.metrics.get("rewritten", {}).get("P@3", float("nan"))))

run("warm-up (fills the document cache)", bf16=False)
rows.clear()
run("full fine-tuning, fp32", bf16=False)
run("full fine-tuning, bf16", bf16=True)
run("LoRA r 16, fp32", lora_r=16, bf16=False)
run("LoRA r 16, bf16", lora_r=16, bf16=True)
print(f"\nGPU: {name}, torch {torch.__version__}, {steps} steps x batch 32, all-MiniLM-L6-v2\n")
print("| run | steps/s | peak GPU memory MiB | rewritten P@3 |")
print("|---|---:|---:|---:|")
for label, sps, mem, p3 in rows:
    print(f"| {label} | {sps:.2f} | {mem:.0f} | {p3:.1f} |")
(work / "gpus").write_text(str(torch.cuda.device_count()))
PYEOF

GPUS="$(cat "$WORK/gpus")"
DEVICE=cpu
[ "$GPUS" -ge 2 ] && DEVICE=cuda
START=$(date +%s)
"$PY" -m torch.distributed.run --nproc_per_node 2 -m lore_rag train --no-compare \
  --train "$("$PY" -c 'from lore_rag.defaults import bundled_train_path; print(bundled_train_path())')" \
  --max-steps 8 --batch-size 16 --device "$DEVICE" --output "$WORK/ddp" --cache-dir "$WORK/cache" --no-show-progress -q
echo "| 2-process DDP (torchrun, $DEVICE), 8 steps x 2 x 16 | done in $(( $(date +%s) - START )) s | | |"
