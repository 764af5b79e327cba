"""The Gradio UI: :func:`build_demo` wires components to a :class:`lore_rag.demo.DemoSession`; :func:`launch` serves it.

All retrieval, labelling, answering and scoring happens in :mod:`lore_rag.demo`; the callbacks here only turn its
results into HTML and tables, and turn every failure into a message on the page.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from lore_rag.demo import LORE, RAW, Comparison, DemoSession, ExampleSet  # noqa: E402
from lore_rag.demo.examples import ServerFiles  # noqa: E402
from lore_rag.demo.ui.examples import example_card_html, example_choices  # noqa: E402
from lore_rag.demo.ui.hits import answer_html, hits_html, legend_html  # noqa: E402
from lore_rag.demo.ui.style import esc, note  # noqa: E402
from lore_rag.demo.ui.summary import SUMMARY_HEADERS, summary_rows, verdict_html  # noqa: E402
from lore_rag.errors import LoreError  # noqa: E402

__all__ = ["CSS", "DEFAULT_MAX_UPLOAD_MB", "build_demo", "default_server_files", "launch", "upload_folder"]

#: Largest upload the app accepts by default, in MB.
DEFAULT_MAX_UPLOAD_MB = 100

logger = logging.getLogger(__name__)

#: Page CSS (the labels' colours are inline, so the page reads right without it).
CSS = """
.lore-col-title { font-size: 1.15em; font-weight: 700; }
"""

_INTRO = (
    "## LORE vs the raw retriever\n"
    "Both columns search **the same Chroma index** (built once with the raw model: LORE tunes only the query "
    "encoder). Pick an example: its rewritten question weaves in *distractors*, tempting chunks that do not "
    "answer it. Each retrieved chunk is labelled from the question's own tiers, and the LLM answers from each "
    "column's top chunks."
)


def upload_folder() -> str:
    """Where Gradio keeps uploaded files: ``$GRADIO_TEMP_DIR``, else ``<temp>/gradio`` (Gradio's own rule)."""
    from gradio.utils import get_upload_folder

    return str(get_upload_folder())


def default_server_files(data_dirs: list[str] | None = None) -> ServerFiles:
    """The files a client may load: under ``data_dirs`` (default: the bundled data sets) and the upload folder."""
    from lore_rag.defaults import bundled_validation_path

    roots = list(data_dirs) if data_dirs else [str(bundled_validation_path().parent)]
    return ServerFiles([*roots, upload_folder()])


def _message(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, LoreError) else f"{type(exc).__name__}: {exc}"


def _header(session: DemoSession) -> str:
    info = session.describe()
    llm = info["llm"] or f"off ({info['llm_error'] or 'not configured'})"
    steps = f", {info['trained_steps']} steps" if info.get("trained_steps") else ""
    return (
        f"**raw:** {info['raw']} · **LORE:** {info['lore']} (`{info['checkpoint']}`{steps}) · "
        f"**index:** {info['chunks'] if info['chunks'] is not None else '?'} chunks, {info['store']} · **LLM:** {llm}"
        + (f" · **reranker:** {info['reranker']}" if info.get("reranker") else "")
    )


def _render(
    session: DemoSession, comparison: Comparison, states: dict[str, str], status: str
) -> tuple[str, str, str, str, str, str, str]:
    raw, lore = comparison.columns[RAW], comparison.columns[LORE]

    def cited(column: Any) -> list[int]:
        return column.answer.cited if column.answer is not None and states[column.key] == "done" else []

    outputs = (
        status,
        legend_html(labelled=comparison.labelled),
        answer_html(raw, comparison, state=states[RAW], llm_name=session.llm_name),
        hits_html(raw, other_name="LORE", answer_k=comparison.answer_k, cited=cited(raw)),
        answer_html(lore, comparison, state=states[LORE], llm_name=session.llm_name),
        hits_html(lore, other_name="raw", answer_k=comparison.answer_k, cited=cited(lore), arrows=True),
        verdict_html(comparison.verdicts(), labelled=comparison.labelled),
    )
    return outputs


def _stream(
    session: DemoSession, query: str, k: float, answers: bool, key: str | None, index: int | None
) -> Iterator[tuple[str, ...]]:
    """Yield the retrieval results first, then each column's answer as it arrives."""
    skip = gr.skip()
    try:
        example = session.match_example(query, key, index)
        comparison = session.compare(query, k=int(k or session.k), example=example)
    except Exception as exc:  # noqa: BLE001 - every failure is a message on the page
        logger.warning("run failed: %s", exc)
        yield (note(_message(exc), kind="error"), skip, skip, skip, skip, skip, skip)
        return
    where = (
        f"labels from example {int(index) + 1}"
        if example is not None and index is not None
        else "free-text query: no labels"
    )
    took = max(c.seconds for c in comparison.columns.values())
    status = note(f"Retrieved the top {comparison.k} of both models in {took:.2f} s · {where}.")
    if session.llm is None:
        state = f"unavailable: {session.llm_error or 'started with --no-llm'}"
    elif not answers:
        state = "off"
    else:
        state = "pending"
    states = {RAW: state, LORE: state}
    yield _render(session, comparison, states, status)
    if state != "pending":
        return
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="lore-answer") as pool:
        futures = {pool.submit(session.answer, comparison, column): column for column in (RAW, LORE)}
        for future in as_completed(futures):
            column = futures[future]
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001
                from lore_rag.demo import ColumnAnswer

                comparison.columns[column].answer = ColumnAnswer(error=_message(exc))
            states[column] = "done"
            yield _render(session, comparison, states, status)


def _first_set(session: DemoSession) -> ExampleSet | None:
    try:
        return session.dataset()
    except LoreError:
        return None


@dataclass
class _CompareTab:
    """The components of the Compare tab that callbacks read or write."""

    picker: Any
    run_rewritten: Any
    run_original: Any
    shuffle: Any
    card: Any
    data_path: Any
    data_file: Any
    load_button: Any
    load_status: Any
    query: Any
    k: Any
    answers: Any
    run: Any
    status: Any
    legend: Any
    raw_answer: Any
    raw_hits: Any
    lore_answer: Any
    lore_hits: Any
    verdict: Any

    @property
    def outputs(self) -> list[Any]:
        """What a search writes, in :func:`_render`'s order."""
        return [
            self.status,
            self.legend,
            self.raw_answer,
            self.raw_hits,
            self.lore_answer,
            self.lore_hits,
            self.verdict,
        ]


@dataclass
class _SummaryTab:
    tab: Any
    button: Any
    status: Any
    table: Any


def _example_row(first: ExampleSet | None) -> tuple[Any, Any, Any, Any]:
    """The example picker and its three buttons: run rewritten, run original, random example."""
    with gr.Row(equal_height=False):
        picker = gr.Dropdown(
            choices=example_choices(first) if first is not None else [],
            value=None,
            label=f"Example questions ({first.name}, {len(first)})" if first else "Example questions",
            elem_id="lore-example-picker",
            scale=5,
            filterable=True,
        )
        with gr.Column(scale=2, min_width=260):
            run_rewritten = gr.Button(
                "Run rewritten question", variant="primary", size="md", elem_id="lore-run-rewritten"
            )
            with gr.Row():
                run_original = gr.Button("Run original", size="sm", elem_id="lore-run-original")
                shuffle = gr.Button("Random example", size="sm", elem_id="lore-random")
    return picker, run_rewritten, run_original, shuffle


def _load_panel() -> tuple[Any, Any, Any, Any]:
    """The folded panel that loads another tiered data set: server path, upload, button, status."""
    with gr.Accordion("Load another tiered data set (JSONL)", open=False):
        with gr.Row():
            data_path = gr.Textbox(
                label="Path on the server",
                placeholder="data/my_set.jsonl",
                scale=3,
                elem_id="lore-data-path",
            )
            data_file = gr.File(
                label="…or upload", file_types=[".jsonl", ".gz", ".json"], scale=2, elem_id="lore-data-file"
            )
        load_button = gr.Button("Load data set", elem_id="lore-load")
        load_status = gr.HTML("", elem_id="lore-load-status")
    return data_path, data_file, load_button, load_status


def _query_row(session: DemoSession) -> tuple[Any, Any, Any, Any]:
    """The free-text query, top-k slider, answers switch and search button."""
    with gr.Row(equal_height=True):
        query = gr.Textbox(
            label="Query (an example's question, or anything: free text has no labels)",
            placeholder="Who directed Sinister?",
            scale=6,
            elem_id="lore-query",
        )
        k = gr.Slider(1, 10, value=session.k, step=1, label="top-k", scale=2, elem_id="lore-k")
        answers = gr.Checkbox(
            value=session.llm is not None,
            label="LLM answers",
            interactive=session.llm is not None,
            scale=1,
            elem_id="lore-answers",
        )
        run = gr.Button("Search", variant="primary", scale=1, size="md", elem_id="lore-search")
    return query, k, answers, run


def _columns(session: DemoSession) -> tuple[Any, Any, Any, Any]:
    """The raw and LORE columns: each an answer box over its labelled hits."""
    with gr.Row(equal_height=False):
        with gr.Column(elem_id="lore-col-raw"):
            gr.Markdown(f"### {esc(session.names[RAW])}", elem_classes="lore-col-title")
            raw_answer = gr.HTML("", elem_id="lore-raw-answer")
            raw_hits = gr.HTML("", elem_id="lore-raw-hits")
        with gr.Column(elem_id="lore-col-lore"):
            gr.Markdown(f"### {esc(session.names[LORE])}", elem_classes="lore-col-title")
            lore_answer = gr.HTML("", elem_id="lore-lore-answer")
            lore_hits = gr.HTML("", elem_id="lore-lore-hits")
    return raw_answer, raw_hits, lore_answer, lore_hits


def _compare_tab(session: DemoSession, first: ExampleSet | None) -> _CompareTab:
    """Lay out the Compare tab (inside its ``gr.Tab``)."""
    picker, run_rewritten, run_original, shuffle = _example_row(first)
    card = gr.HTML(example_card_html(None), elem_id="lore-example-card")
    data_path, data_file, load_button, load_status = _load_panel()
    query, k, answers, run = _query_row(session)
    status = gr.HTML("", elem_id="lore-status")
    legend = gr.HTML(legend_html(), elem_id="lore-legend")
    raw_answer, raw_hits, lore_answer, lore_hits = _columns(session)
    verdict = gr.HTML("", elem_id="lore-verdict")
    return _CompareTab(
        picker, run_rewritten, run_original, shuffle, card, data_path, data_file, load_button, load_status,
        query, k, answers, run, status, legend, raw_answer, raw_hits, lore_answer, lore_hits, verdict,
    )  # fmt: skip


def _summary_tab(session: DemoSession, tab: Any) -> _SummaryTab:
    """Lay out the Summary tab (inside its ``gr.Tab``): the P@k / N1@k table, training and trade-off curves."""
    gr.Markdown(
        "P@k: share of a question's **positive** chunks ranked in its top k (higher is better). "
        "N1@k: share of its **distractors** in the top k (lower is better). Each question's own "
        "candidates are ranked (the paper's protocol), with the rewritten and with the original query."
    )
    button = gr.Button("Compute on the loaded set", elem_id="lore-summary-run")
    status = gr.HTML("", elem_id="lore-summary-status")
    table = gr.Dataframe(headers=SUMMARY_HEADERS, value=None, interactive=False, elem_id="lore-summary-table")
    gr.Markdown("### Training curves of the checkpoint")
    curves = session.training_curves
    if curves is not None:
        gr.Image(str(curves), type="filepath", show_label=False, elem_id="lore-curves", interactive=False)
    else:
        gr.Markdown("This checkpoint's run folder has no `training_curves.png`.")
    _tradeoff_section(session)
    return _SummaryTab(tab, button, status, table)


def _tradeoff_section(session: DemoSession) -> None:
    """The checkpoint's trade-off curve (``lore-rag tradeoff`` output): plot, tables, or how to produce it."""
    from lore_rag.demo.tradeoff import tradeoff_markdown

    gr.Markdown("### Trade-off: plain recall vs distractors")
    finding = session.tradeoff
    plot = finding.summary.plot if finding.summary is not None else None
    if plot is not None:
        gr.Image(str(plot), type="filepath", show_label=False, elem_id="lore-tradeoff", interactive=False)
    gr.Markdown(tradeoff_markdown(finding, session.checkpoint), elem_id="lore-tradeoff-table")


def _pick_handler(session: DemoSession) -> Any:
    def pick(choice: Any, key: str | None) -> tuple[str, Any, Any]:
        if choice is None or choice == "":
            return example_card_html(None), None, gr.skip()
        try:
            index = int(choice)
            example = session.dataset(key).example(index)
        except Exception as exc:  # noqa: BLE001
            return note(_message(exc), kind="error"), None, gr.skip()
        return example_card_html(example, index), index, example.query

    return pick


def _random_handler(session: DemoSession) -> Any:
    def random_choice(key: str | None) -> Any:
        try:
            loaded = session.dataset(key)
        except LoreError as exc:
            gr.Warning(str(exc))
            return gr.skip()
        return random.randrange(len(loaded)) if len(loaded) else gr.skip()

    return random_choice


def _search_handler(session: DemoSession) -> Any:
    def search(query_text: str, top_k: float, with_answers: bool, key: str | None, index: int | None):
        yield from _stream(session, query_text, top_k, with_answers, key, index)

    return search


def _run_view_handler(session: DemoSession, view: str) -> Any:
    """Run the picked example's question as ``view`` (rewritten or original): fill the query box, then stream."""

    def handler(key: str | None, index: int | None, top_k: float, with_answers: bool):
        from lore_rag.demo import example_query

        skip = gr.skip()
        if index is None:
            yield (skip, note("Pick an example question first.", kind="warn"), *([skip] * 6))
            return
        try:
            text = example_query(session.dataset(key).example(int(index)), view)
        except Exception as exc:  # noqa: BLE001
            yield (skip, note(_message(exc), kind="error"), *([skip] * 6))
            return
        first_update = True
        for update in _stream(session, text, top_k, with_answers, key, index):
            yield (text if first_update else skip, *update)
            first_update = False

    return handler


def _load_handler(session: DemoSession, allowed: ServerFiles) -> Any:
    def load_set(path_text: str, upload: Any, progress: gr.Progress = gr.Progress(track_tqdm=True)):  # noqa: B008
        skip = gr.skip()
        if not upload and not (path_text or "").strip():
            return note("Give a path or upload a tiered JSONL file.", kind="warn"), skip, skip, skip, skip
        try:
            # an upload is a file in Gradio's upload folder; a typed path must lie under the data folders
            path = allowed.resolve(upload or path_text)
            progress(0, desc="reading and indexing")
            loaded = session.load(path, name=os.path.basename(str(path)), show_progress=True)
        except Exception as exc:  # noqa: BLE001
            return note(_message(exc), kind="error"), skip, skip, skip, skip
        dropdown = gr.Dropdown(
            choices=example_choices(loaded), value=None, label=f"Example questions ({loaded.name}, {len(loaded)})"
        )
        count = session.store.count()
        message = note(f"Loaded {len(loaded)} question(s) from {loaded.name}; the index holds {count} chunks.")
        return message, dropdown, loaded.key, None, example_card_html(None)

    return load_set


def _summary_handler(session: DemoSession) -> Any:
    def summarize(key: str | None, progress: gr.Progress = gr.Progress(track_tqdm=True)):  # noqa: B008
        try:
            loaded = session.dataset(key)
            progress(0, desc="ranking candidates")
            rows = session.summary(loaded.key, show_progress=True)
        except Exception as exc:  # noqa: BLE001
            return note(_message(exc), kind="error"), gr.skip()
        return note(f"{loaded.name}: {len(loaded)} question(s)."), summary_rows(rows)

    return summarize


def _wire_compare(session: DemoSession, ui: _CompareTab, set_key: Any, example_index: Any) -> None:
    """Connect the Compare tab's pickers and buttons to their callbacks (the public API names included)."""
    ui.picker.change(
        _pick_handler(session), [ui.picker, set_key], [ui.card, example_index, ui.query], api_visibility="private"
    )
    ui.shuffle.click(_random_handler(session), [set_key], [ui.picker], api_visibility="private")
    search, inputs = _search_handler(session), [ui.query, ui.k, ui.answers, set_key, example_index]
    ui.run.click(search, inputs, ui.outputs, api_name="search", concurrency_limit=16)
    ui.query.submit(search, inputs, ui.outputs, api_visibility="private", concurrency_limit=16)
    for button, view in ((ui.run_rewritten, "rewritten"), (ui.run_original, "original")):
        button.click(
            _run_view_handler(session, view),
            [set_key, example_index, ui.k, ui.answers],
            [ui.query, *ui.outputs],
            api_name=f"run_{view}",
            concurrency_limit=16,
        )


def _wire_data(
    session: DemoSession, ui: _CompareTab, summary: _SummaryTab, allowed: ServerFiles, set_key: Any, example_index: Any
) -> None:
    """Connect loading a data set and computing the summary table."""
    ui.load_button.click(
        _load_handler(session, allowed),
        [ui.data_path, ui.data_file],
        [ui.load_status, ui.picker, set_key, example_index, ui.card],
        api_visibility="private",
        concurrency_limit=2,
    )
    summarize = _summary_handler(session)
    summary.button.click(summarize, [set_key], [summary.status, summary.table], api_name="summary")
    summary.tab.select(summarize, [set_key], [summary.status, summary.table], api_visibility="private")


def build_demo(
    session: DemoSession, *, title: str = "lore-rag: raw vs LORE", server_files: ServerFiles | None = None
) -> gr.Blocks:
    """Build the app for one session: examples, raw and LORE columns with labelled chunks and answers, a summary tab.

    Args:
        session: Models, index, example sets and LLM.
        title: Browser tab title.
        server_files: The files a client may load by path or upload (default :func:`default_server_files`:
            the bundled data sets and Gradio's upload folder); anything else is refused.

    Returns:
        The :class:`gradio.Blocks` (serve it with :func:`launch`).
    """
    allowed = server_files if server_files is not None else default_server_files()
    first = _first_set(session)
    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        set_key = gr.State(first.key if first is not None else None)
        example_index = gr.State(None)
        gr.Markdown(_INTRO)
        gr.Markdown(_header(session), elem_id="lore-header")
        with gr.Tabs():
            with gr.Tab("Compare", id="compare"):
                compare = _compare_tab(session, first)
            with gr.Tab("Summary", id="summary") as summary_tab:
                summary = _summary_tab(session, summary_tab)
        _wire_compare(session, compare, set_key, example_index)
        _wire_data(session, compare, summary, allowed, set_key, example_index)
    return demo


def launch(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    auth: tuple[str, str] | None = None,
    block: bool = True,
    quiet: bool = False,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
) -> tuple[Any, str, str]:
    """Serve the app (analytics off, no share link); returns Gradio's ``(app, local_url, share_url)``.

    Args:
        demo: From :func:`build_demo`.
        host: Address to bind (default loopback only).
        port: Port (default: 7860 or the next free one).
        auth: ``(user, password)`` for basic login, or ``None``.
        block: Block until Ctrl-C (``False`` returns at once, e.g. in tests; call ``demo.close()``).
        quiet: Less console output.
        max_upload_mb: Largest upload accepted, in MB (Gradio refuses bigger ones with HTTP 413).
    """
    demo.queue(default_concurrency_limit=4, max_size=256)
    return demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message="lore-rag app: log in with the user and password given to --auth" if auth else None,
        share=False,
        max_file_size=max(1, int(max_upload_mb * 1024 * 1024)),  # bytes
        prevent_thread_lock=not block,
        show_error=True,
        quiet=quiet,
        ssr_mode=False,
        mcp_server=False,
        css=CSS,
        footer_links=[],
    )
