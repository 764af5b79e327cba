"""``lore-rag push`` / ``push_checkpoint`` against a local fake of the Hub API (no network in tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lore_rag.errors import ModelError
from lore_rag.models.checkpoint import MANIFEST_NAME
from lore_rag.models.hub import push_checkpoint


class FakeHub:
    """Records what would go to the Hub; ``upload_folder`` copies the staged folder's files."""

    def __init__(self, fail: str | None = None) -> None:
        self.repos: list[dict] = []
        self.uploaded: dict[str, str] = {}
        self.fail = fail

    def create_repo(self, **kwargs):
        self.repos.append(kwargs)

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        if self.fail:
            raise RuntimeError(self.fail)
        root = Path(folder_path)
        self.uploaded = {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*") if p.is_file()}
        return f"https://hub.example/{repo_id}/commit/1"


@pytest.fixture
def checkpoint(tmp_path):
    folder = tmp_path / "run" / "best"
    (folder / "query_0_Transformer").mkdir(parents=True)
    (folder / "query_0_Transformer" / "model.safetensors").write_text("weights")
    manifest = {
        "base_model": "all-MiniLM-L6-v2",
        "base_fingerprint": "abc123",
        "name": "LORE",
        "loss": {"name": "lore", "tau": 0.05, "alpha": 1.0, "beta": 3.0},
        "training": {"anchor_weight": 1.0, "lr": 1e-4},
        "train_data": [{"path": "train.jsonl", "sha256": "f" * 64, "rows": 757}],
        "metrics": {"step": 24, "rewritten": {"P@3": 67.1, "N1@3": 34.7}},
    }
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    (folder / "README.md").write_text("old card")
    return folder


def test_push_uploads_the_checkpoint_with_a_card_naming_the_repo(checkpoint):
    hub = FakeHub()
    url = push_checkpoint(checkpoint.parent, "someone/lore-minilm", private=True, api=hub)  # the run folder -> best/
    assert url == "https://hub.example/someone/lore-minilm/commit/1"
    assert hub.repos == [{"repo_id": "someone/lore-minilm", "private": True, "exist_ok": True, "repo_type": "model"}]
    assert hub.uploaded["query_0_Transformer/model.safetensors"] == "weights"
    card = hub.uploaded["README.md"]
    assert 'SentenceTransformer("someone/lore-minilm")' in card and "| rewritten | 67.1 | 34.7 |" in card
    assert "757" in card and "f" * 16 in card
    assert (checkpoint / "README.md").read_text() == "old card"  # the local checkpoint is not changed


def test_push_errors_are_one_line(checkpoint, monkeypatch):
    with pytest.raises(ModelError, match="cannot push .* to someone/x: 401 unauthorized"):
        push_checkpoint(checkpoint, "someone/x", api=FakeHub(fail="401 unauthorized\nmore detail"))
    with pytest.raises(ModelError, match="must be 'user/name'"):
        push_checkpoint(checkpoint, "no-slash", api=FakeHub())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE is set"):
        push_checkpoint(checkpoint, "someone/x")


def test_push_cli_reports_offline_in_one_line(checkpoint):
    out = subprocess.run(
        [sys.executable, "-m", "lore_rag", "push", str(checkpoint), "someone/x"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"},
    )
    assert out.returncode == 1
    assert out.stderr.strip() == "lore-rag: error: cannot push: HF_HUB_OFFLINE is set (unset it to reach the Hub)"
