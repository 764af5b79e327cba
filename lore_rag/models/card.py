"""The model card (README.md) of a LORE checkpoint: what it is, how it was trained, how well, how to load it."""

from __future__ import annotations

from typing import Any

__all__ = ["model_card"]


def _table(metrics: dict[str, Any]) -> str:
    views = {k: v for k, v in metrics.items() if isinstance(v, dict)}
    if not views:
        return "_No validation file was given, so there are no validation metrics._\n"
    names = list(dict.fromkeys(name for values in views.values() for name in values))
    lines = ["| view | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for view, values in views.items():
        cells = [
            (f"{values[n]:.3f}" if n.startswith(("MRR", "nDCG")) else f"{values[n]:.1f}")
            if isinstance(values.get(n), (int, float))
            else ""
            for n in names
        ]
        lines.append(f"| {view} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _is_adapter(manifest: dict[str, Any]) -> bool:
    """True for a LoRA adapter checkpoint (not merged): plain sentence-transformers would misload it."""
    return bool((manifest.get("training") or {}).get("lora_r")) and not manifest.get("merged_from")


def _intro(manifest: dict[str, Any]) -> str:
    """What the folder holds: both sides, the adapter alone, or both sides merged from an adapter."""
    base = manifest.get("base_model")
    lora = manifest.get("lora") or {}
    rank = lora.get("r") or (manifest.get("training") or {}).get("lora_r")
    held = "the **query** side (as a LoRA adapter) of" if _is_adapter(manifest) else "**both sides** of"
    text = (
        f"This folder holds {held} a LORE retriever (Logic-ORiented Retriever Enhancement, arXiv 2602.01116): the\n"
        "**query** encoder, fine-tuned to rank distractor chunks below the evidence, and the **document** encoder,\n"
        f"the original `{base}` unchanged (weight fingerprint `{manifest.get('base_fingerprint')}`). An index\n"
        "built with the original model stays valid: only queries are embedded differently.\n"
    )
    merged = manifest.get("merged_from")
    if merged:
        text += (
            f"The query side was merged from a LoRA adapter (r = {rank}, alpha {lora.get('alpha')}, adapter\n"
            f"sha256 `{str(merged.get('adapter_sha256', ''))[:16]}`, from `{merged.get('path')}`) into a full copy of\n"
            "the base weights with `lore-rag merge-lora`, so this folder loads like a full fine-tune.\n"
        )
    elif rank:
        text += f"The query side is a LoRA adapter (r = {rank}) on the base model, which is loaded by its name.\n"
    return text


def _plain_use(manifest: dict[str, Any], where: str, repo_id: str | None) -> str:
    """How plain sentence-transformers loads the folder, or, for an adapter, how to make a folder it can load."""
    if _is_adapter(manifest):
        local = "lora-checkpoint" if repo_id else where
        fetch = f"hf download {repo_id} --local-dir {local}\n" if repo_id else ""
        return (
            "Plain sentence-transformers would apply the adapter to documents too. For a folder it (and any tool that\n"
            "only knows sentence-transformers) loads with both sides right, merge the adapter first:\n\n"
            f"```bash\n{fetch}lore-rag merge-lora {local} -o merged/\n```\n"
        )
    return f"""sentence-transformers (`encode_query` uses the tuned side, `encode_document` the original):

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("{where}")
q = model.encode_query(["who directed the film?"])
d = model.encode_document(["chunk one", "chunk two"])
```
"""


def model_card(manifest: dict[str, Any], *, repo_id: str | None = None) -> str:
    """Markdown model card of a checkpoint from its manifest.

    Args:
        manifest: The checkpoint manifest (base model, loss, settings, data, metrics).
        repo_id: Hub id the card should use in its loading examples; default: a local path placeholder.
    """
    loss = manifest.get("loss", {})
    training = manifest.get("training", {})
    name = manifest.get("name") or "LORE"
    where = repo_id or "path/to/this/checkpoint"
    data_rows = "\n".join(
        f"| `{d.get('path')}` | `{str(d.get('sha256', ''))[:16]}` | {d.get('rows', '')} |"
        for d in manifest.get("train_data", [])
    )
    validation = manifest.get("validation_data") or {}
    metrics = manifest.get("metrics") or {}
    step = metrics.get("step", manifest.get("step"))
    tags = "\n".join(f"- {t}" for t in ("sentence-transformers", "feature-extraction", "lore-rag", "lore", "retrieval"))
    return f"""---
library_name: sentence-transformers
base_model: {manifest.get("base_model")}
tags:
{tags}
pipeline_tag: sentence-similarity
---

# {name}: a LORE query encoder on {manifest.get("base_model")}

{_intro(manifest)}

## Training

| setting | value |
|---|---|
| loss | {loss.get("name")} (tau {loss.get("tau")}, alpha {loss.get("alpha")}, beta {loss.get("beta")}) |
| original-query anchor weight | {training.get("anchor_weight")} |
| L2-SP weight (pull toward the base weights) | {training.get("l2sp_weight", 0.0)} |
| mined hard negatives per row | {training.get("mined_negatives", 0)} |
| plain (original) questions as extra rows | {training.get("include_original", False)} |
| learning rate, epochs, batch size | {training.get("lr")}, {training.get("epochs")}, {training.get("batch_size")} |
| optimiser steps | {manifest.get("step")} of {manifest.get("total_steps")} |
| seed | {training.get("seed")} |
| training rows | {manifest.get("train_rows")} |
| lore-rag | {manifest.get("lore_rag_version")} |

| training file | sha256 | rows |
|---|---|---:|
{data_rows}

Validation file: `{validation.get("path")}` (sha256 `{str(validation.get("sha256", ""))[:16]}`).

## Validation (paper protocol, step {step})

P@k: share of the positives in the top k of each query's own candidates (higher is better); N1@k: share of
distractors there (lower is better). *rewritten*: the LLM-disturbed queries; *original*: the same questions as asked.

{_table(metrics)}
## Use

{_plain_use(manifest, where, repo_id)}

lore-rag, LlamaIndex and LangChain (the document side is checked against the base model's fingerprint):

```python
from lore_rag import LoreEncoder
from lore_rag.integrations.llama_index import LoreEmbedding      # LlamaIndex BaseEmbedding
from lore_rag.integrations.langchain import LoreEmbeddings       # LangChain Embeddings

encoder = LoreEncoder.from_checkpoint("{where}")
```

## Citation

```bibtex
@misc{{lore2026,
    title = {{LORE: Logic-ORiented Retriever Enhancement}},
    year = {{2026}},
    eprint = {{2602.01116}},
    archivePrefix = {{arXiv}},
}}
```
"""
