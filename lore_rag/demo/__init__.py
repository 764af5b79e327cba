"""Raw vs LORE side by side: the logic behind the Gradio app, usable from recipes and tests.

One :class:`DemoSession` holds the raw model and a LORE checkpoint (which shares the raw model as its document
encoder, so one Chroma collection serves both), the tiered example sets loaded so far, and optionally an LLM
client. For a query it retrieves each model's top-k chunks, labels every hit **positive** / **distractor** from
the question's own tiers when the question comes from a tiered set, asks the LLM to answer from each column's
chunks, and gives a verdict per model (answer correct? distractor in the top 3?).

```python
from lore_rag.demo import DemoSession
from lore_rag.llm import connect

with connect() as llm:
    session = DemoSession.create(llm=llm)          # default checkpoint, bundled validation set, local store
    example = session.dataset().examples[0]
    result = session.run(example.query, example=example)
    for verdict in result.verdicts():
        print(verdict.model, verdict.summary())
```
"""

from lore_rag.demo.examples import (
    BUNDLED_KEY,
    ExampleSet,
    example_query,
    index_examples,
    load_example_set,
    woven_distractors,
)
from lore_rag.demo.results import (
    LORE,
    RAW,
    ColumnAnswer,
    ColumnResult,
    Comparison,
    LabelledHit,
    Verdict,
    chunk_labels,
    label_hits,
)
from lore_rag.demo.session import (
    DemoSession,
    answer_from_hits,
    app_store_path,
    ensure_default_checkpoint,
    training_curves_path,
)
from lore_rag.errors import DemoError

__all__ = [
    "BUNDLED_KEY",
    "LORE",
    "RAW",
    "ColumnAnswer",
    "ColumnResult",
    "Comparison",
    "DemoError",
    "DemoSession",
    "ExampleSet",
    "LabelledHit",
    "Verdict",
    "answer_from_hits",
    "app_store_path",
    "chunk_labels",
    "ensure_default_checkpoint",
    "example_query",
    "index_examples",
    "label_hits",
    "load_example_set",
    "training_curves_path",
    "woven_distractors",
]


def __getattr__(name: str) -> object:
    # The app's store used to be ``default_store_path``, the name retrieval uses for ``chroma/``: kept one release.
    if name == "default_store_path":
        import warnings

        warnings.warn(
            "lore_rag.demo.default_store_path is now lore_rag.demo.app_store_path "
            "(lore_rag.retrieval.default_store_path is the index's chroma/ folder)",
            DeprecationWarning,
            stacklevel=2,
        )
        return app_store_path
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
