"""The decoder-embedder path (Qwen3-Embedding style: last-token pooling, left padding, an instruction prompt) on a
tiny Llama built from a config in the test (random weights, no download): train, save, load, query through LlamaIndex
and LangChain."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lore_rag.data.io import read_examples, write_examples
from lore_rag.models.checkpoint import read_manifest
from lore_rag.models.encoder import LoreEncoder, model_fingerprint
from lore_rag.training import TrainConfig, train

pytestmark = pytest.mark.slow

INSTRUCTION = "Instruct: Given a question, retrieve passages that answer it\nQuery: "


@pytest.fixture(scope="module")
def decoder_model(tmp_path_factory, base_model):
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import LlamaConfig, LlamaModel

    root = tmp_path_factory.mktemp("decoder")
    tokenizer = base_model[0].tokenizer  # any tokenizer will do for random weights; reuse the bundled one's vocab
    tokenizer.save_pretrained(str(root / "hf"))
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
    )
    LlamaModel(config).save_pretrained(str(root / "hf"))
    settings = json.loads((root / "hf" / "tokenizer_config.json").read_text())
    settings["padding_side"] = "left"
    (root / "hf" / "tokenizer_config.json").write_text(json.dumps(settings))
    transformer = Transformer(str(root / "hf"), max_seq_length=64)
    model = SentenceTransformer(
        modules=[transformer, Pooling(32, pooling_mode="lasttoken"), Normalize()],
        prompts={"query": INSTRUCTION, "document": ""},
        device="cpu",
    )
    model.save(str(root / "st"))
    return root / "st"


def test_tiny_decoder_embedder_trains_saves_loads_and_serves_both_frameworks(decoder_model, tmp_path, shared_data):
    from lore_rag.integrations.langchain import LoreEmbeddings
    from lore_rag.integrations.llama_index import LoreEmbedding

    write_examples(read_examples(shared_data / "lore" / "train.jsonl")[:16], tmp_path / "train.jsonl")
    raw = LoreEncoder.raw(str(decoder_model))
    assert raw.query_model[0].tokenizer.padding_side == "left"
    pooling = json.loads(next(decoder_model.glob("1_Pooling/config.json")).read_text())
    assert pooling.get("pooling_mode") == "lasttoken" or pooling.get("pooling_mode_lasttoken") is True
    result = train(
        TrainConfig(
            base_model=str(decoder_model),
            train_files=[str(tmp_path / "train.jsonl")],
            output_dir=str(tmp_path / "run"),
            batch_size=4,
            max_steps=2,
            lr=1e-3,
            cache_dir=str(tmp_path / "cache"),
            show_progress=False,
        )
    )
    manifest = read_manifest(result.best)
    assert manifest["base_fingerprint"] == raw.document_fingerprint
    encoder = LoreEncoder.from_checkpoint(result.best)
    assert encoder.query_model.prompts["query"] == INSTRUCTION
    q, d = ["who directed the film?"], ["The film was directed by Jane Doe."]
    assert np.allclose(encoder.embed_documents(d), raw.embed_documents(d), atol=1e-5)
    assert not np.allclose(encoder.embed_queries(q), raw.embed_queries(q), atol=1e-4)
    assert model_fingerprint(encoder.query_model) != raw.document_fingerprint

    langchain = LoreEmbeddings(checkpoint=str(result.best))
    assert np.allclose(langchain.embed_query(q[0]), encoder.embed_queries(q)[0], atol=1e-5)
    assert np.allclose(langchain.embed_documents(d)[0], raw.embed_documents(d)[0], atol=1e-5)
    llama = LoreEmbedding(checkpoint=str(result.best))
    assert np.allclose(llama.get_query_embedding(q[0]), encoder.embed_queries(q)[0], atol=1e-5)
    assert np.allclose(llama.get_text_embedding(d[0]), raw.embed_documents(d)[0], atol=1e-5)
