"""LORE inside your own ``SentenceTransformerTrainer`` script: ``LoreLoss`` + ``LoreEvaluator`` + the document cache.

    python recipes/sentence_transformers_trainer.py [--steps 24] [--output runs/st-recipe]

Trains the bundled all-MiniLM-L6-v2's query side on the bundled data (one epoch is 24 steps), evaluates on the
bundled HotpotQA validation set, and saves one folder with both sides. Same loss and data as ``lore-rag train``
(which does all of this plus resume checks, curves and the model card). Expected on a 2-core CPU: about a minute of
training once the document cache is warm (embedding the ~8k chunks once takes 3-4 min), and a validation table
near the README's LORE row (rewritten P@3 ~67, N1@3 ~35).
"""

import argparse

from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

from lore_rag import LoreEvaluator, LoreLoss
from lore_rag.data.io import read_examples
from lore_rag.defaults import bundled_train_path, bundled_validation_path, cache_dir
from lore_rag.models.checkpoint import pair_model
from lore_rag.models.doc_cache import DocEmbeddingCache
from lore_rag.models.encoder import load_model, query_prompt
from lore_rag.training.data import LoreDataCollator, build_dataset

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=-1)
parser.add_argument("--output", default="runs/st-recipe")
args = parser.parse_args()

base = load_model(None)  # frozen: the document side, and the anchor's teacher
query_model = load_model(None)  # tuned: the query side
documents = DocEmbeddingCache(base, cache_dir("doc_embeddings"))  # each chunk embedded once, memory-mapped
teacher = DocEmbeddingCache(base, cache_dir("doc_embeddings"), prompt=query_prompt(base))
train_dataset = build_dataset(read_examples(bundled_train_path()), documents, teacher)
validation = read_examples(bundled_validation_path())

trainer = SentenceTransformerTrainer(
    model=query_model,
    args=SentenceTransformerTrainingArguments(
        output_dir=f"{args.output}/checkpoints",
        per_device_train_batch_size=32,
        learning_rate=1e-4,
        warmup_steps=0.1,
        num_train_epochs=1,
        max_steps=args.steps,
        eval_strategy="steps",
        eval_steps=24,
        logging_steps=4,
        remove_unused_columns=False,
        report_to="none",
    ),
    train_dataset=train_dataset,
    loss=LoreLoss(query_model, tau=0.05, alpha=1.0, beta=3.0, anchor_weight=1.0),
    evaluator=LoreEvaluator(validation, embed_documents=documents.embed),
    data_collator=LoreDataCollator(
        query_model.preprocess, documents.matrix(), teacher.matrix(), query_prompt(query_model), max_length=128
    ),
)
trainer.train()
print(trainer.evaluator(query_model))
pair_model(query_model, base).save(f"{args.output}/final")  # encode_query: tuned side; encode_document: original
