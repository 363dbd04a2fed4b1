"""Models: a catalogue in process — pull with progress, list, load by name, unload, embed."""

import os
import shutil

import pytest

import story_portal as sp


def _embedder() -> str:
    path = os.environ.get("SP_TEST_EMBEDDER")
    if not path:
        raise RuntimeError("SP_TEST_EMBEDDER is not set: run the suite through scripts/test.sh")
    return path


def test_pull_reports_progress_and_the_model_answers_by_name(model_path, tmp_path):
    models = sp.Models.open(tmp_path / "models", memory_budget_mib=2048)
    assert models.list() == []
    events = []
    pulled = models.pull(model_path, name="smol", progress=events.append)
    assert pulled["name"] == "smol"
    assert pulled["bytes"] == os.path.getsize(model_path)
    assert len(pulled["sha256"]) == 64
    phases = {event["phase"] for event in events}
    assert "copying" in phases, events
    assert all(event["bytes"] <= (event["total"] or event["bytes"]) for event in events)

    [entry] = models.list()
    assert (entry["name"], entry["kind"], entry["state"]) == ("smol", "chat", "unloaded")
    chat = models.model("smol")
    assert models.show("smol")["state"] == "loaded"
    assert models.show("smol")["in_use"] == 1
    reply = chat.complete("The capital of France is", max_tokens=8, temperature=0)
    assert reply.completion_tokens > 0
    del chat
    assert models.show("smol")["in_use"] == 0
    assert models.unload("smol")["state"] == "unloaded"
    assert models.load("smol")["state"] == "loaded"

    # A directory reopened finds what was pulled.
    again = sp.Models.open(tmp_path / "models", memory_budget_mib=2048)
    assert [m["name"] for m in again.list()] == ["smol"]


def test_entries_by_name_embed_and_refusals(model_path, tmp_path):
    models = sp.Models.open(
        tmp_path / "models",
        models=[
            {"name": "minilm", "path": _embedder(), "kind": "embedding"},
            {"name": "smol", "path": model_path, "aliases": ["small"]},
        ],
    )
    cat, mat, tax = models.embed("minilm", ["a cat", "a kitten", "tax returns"])
    assert len(cat) == 384
    similarity = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731 (unit vectors)
    assert similarity(cat, mat) > similarity(cat, tax)
    assert models.show("small")["name"] == "smol"

    with pytest.raises(sp.NotFoundError) as missing:
        models.model("no-such-model")
    assert missing.value.code == "SP-LLM-007"
    with pytest.raises(sp.Error):
        models.model("minilm")  # an embedding model does not chat
    with pytest.raises(sp.InvalidInputError):
        models.pull(str(tmp_path / "absent.gguf"))
    with pytest.raises(sp.ConflictError):
        models.pull(model_path, name="smol")  # the name is taken


def test_a_progress_callback_that_raises_is_raised(model_path, tmp_path):
    models = sp.Models.open(tmp_path / "models")

    def fail(event):
        raise RuntimeError("stop reporting")

    with pytest.raises(RuntimeError, match="stop reporting"):
        models.pull(model_path, name="smol", progress=fail)


def test_a_corrupt_file_in_the_directory_fails_only_its_own_loads(model_path, tmp_path):
    directory = tmp_path / "models"
    directory.mkdir()
    shutil.copy(model_path, directory / "smol.gguf")
    (directory / "broken.gguf").write_bytes(b"GGUF" + b"\0" * 64)
    # "broken" sorts first, yet the readable model is the default chat model (loaded at open).
    models = sp.Models.open(directory)
    assert models.show("smol")["state"] == "loaded"
    assert models.show("broken")["error"]
    with pytest.raises(sp.ModelLoadError):
        models.load("broken")
    assert models.model("smol").complete("Hi", max_tokens=2).completion_tokens > 0
