"""The knowledge store from Python on the embedded store and on PostgreSQL."""

import asyncio

import pytest

import story_portal as sp

NOTES = [
    ("Oslo", "The capital of Norway is Oslo. It sits at the head of the Oslofjord.", {"lang": "en", "kind": "city"}),
    ("Bergen", "Bergen is a rainy city on the west coast of Norway.", {"lang": "en", "kind": "city"}),
    ("Taxes", "Quarterly tax filings are due at the end of each quarter.", {"lang": "en", "kind": "finance"}),
]


def fill(store):
    return [store.ingest(t, c, metadata=m, external_id=t.lower()) for t, c, m in NOTES]


def test_ingest_search_get_delete(open_store):
    store = open_store()
    ingested = fill(store)
    assert [i.outcome for i in ingested] == ["created"] * 3
    again = store.ingest(*NOTES[0][:2], metadata=NOTES[0][2], external_id="oslo")
    assert again.outcome == "unchanged" and again.document_id == ingested[0].document_id
    changed = store.ingest("Oslo", "Oslo is the capital of Norway.", external_id="oslo")
    assert changed.outcome == "replaced"

    for mode in ("hybrid", "keyword", "vector"):
        hits = store.search("capital of Norway", k=2, mode=mode)
        assert hits and hits[0].title == "Oslo", (mode, hits)
    best = store.search("capital of Norway", k=1)[0]
    assert best.document_id == ingested[0].document_id
    assert "capital" in best.text and best.external_id == "oslo"
    assert isinstance(best.score, float)

    finance = store.search("city on the coast", k=5, filter={"kind": "finance"})
    assert [h.title for h in finance] == ["Taxes"]
    assert store.search("Norway", filter={"kind": "city"})[0].metadata == {"lang": "en", "kind": "city"}

    document = store.get(ingested[1].document_id)
    assert document["title"] == "Bergen" and document["metadata"]["kind"] == "city"
    store.delete(ingested[1].document_id)
    assert all(h.title != "Bergen" for h in store.search("rainy west coast", k=5))
    with pytest.raises(sp.NotFoundError) as gone:
        store.get(ingested[1].document_id)
    assert gone.value.code == "SP-RES-001"


def test_namespaces_are_apart(open_store):
    store = open_store()
    fill(store)
    other = open_store(namespace="other")
    assert other.search("capital of Norway") == [], "a namespace with no documents is empty"
    other.ingest("Stockholm", "The capital of Sweden is Stockholm.")
    assert [h.title for h in other.search("capital", k=5)] == ["Stockholm"]
    assert [h.title for h in store.search("capital", k=5, namespace="other")] == ["Stockholm"]
    assert "Stockholm" not in [h.title for h in store.search("capital", k=5)]


def test_bad_input_is_a_coded_exception_and_stores_nothing(open_store):
    store = open_store()
    cases = [
        (lambda: store.ingest("Empty", ""), sp.InvalidInputError, "SP-VAL-001"),
        (lambda: store.ingest("Huge", "x" * 20_000_000), sp.TooLargeError, "SP-KB-001"),
        (lambda: store.search("x", mode="psychic"), sp.InvalidInputError, "SP-VAL-001"),
        (lambda: store.search("x", k=0), sp.InvalidInputError, "SP-VAL-001"),
        (lambda: store.search("x", filter=["not", "an", "object"]), sp.InvalidInputError, "SP-VAL-001"),
        (lambda: store.get("not-an-id"), sp.InvalidInputError, "SP-VAL-001"),
        (lambda: store.ingest("Meta", "ok", metadata={"x": float("nan")}), sp.InvalidInputError, "SP-VAL-001"),
        (lambda: store.ingest("Meta", "ok", metadata={"x": object()}), sp.InvalidInputError, "SP-VAL-001"),
        (lambda: store.ingest("Ns", "ok", namespace="bad namespace!"), sp.InvalidInputError, "SP-VAL-001"),
    ]
    for call, exception, code in cases:
        with pytest.raises(exception) as raised:
            call()
        assert raised.value.code == code, (raised.value, code)
    # Nothing was stored: the namespace that never got a document finds nothing.
    assert store.search("ok x Empty Huge Meta") == []


def test_a_store_keeps_its_dimension(open_store, model):
    store = open_store()  # the 384-dimensional feature-hashing embedder
    store.ingest("Oslo", "The capital of Norway is Oslo.")
    with pytest.raises(sp.InvalidInputError) as raised:
        open_store(model=model)  # the model embeds in its own size
    assert raised.value.code == "SP-KB-002"


def test_the_model_as_embedder(tmp_path, model):
    store = sp.KnowledgeStore.open(str(tmp_path / "model-store"), model=model)
    fill(store)
    assert store.search("Which city is Norway's capital?", k=1, mode="vector")[0].title == "Oslo"


def test_asyncio_variants(open_store):
    store = open_store()

    async def main():
        done = await asyncio.gather(*(store.aingest(t, c, metadata=m) for t, c, m in NOTES))
        hits = await store.asearch("capital of Norway", k=1)
        document = await store.aget(done[0].document_id)
        await store.adelete(done[0].document_id)
        after = await store.asearch("capital of Norway", k=3)
        return done, hits, document, after

    done, hits, document, after = asyncio.run(main())
    assert len(done) == 3 and hits[0].title == "Oslo"
    assert document["title"] == "Oslo"
    assert all(h.title != "Oslo" for h in after)
