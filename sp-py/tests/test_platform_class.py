"""`Platform`: every service of a location wired once — and the services record their own events,
so what Python does is in the log just as what HTTP does."""

import uuid

import story_portal as sp


def options(location):
    return {"schema": f"py_{uuid.uuid4().hex}"} if location.startswith("postgres") else {}


def test_a_platform_wires_and_records(location):
    platform = sp.Platform.open(location, **options(location))
    done = platform.knowledge.ingest("Oslo", "Oslo is the capital of Norway.", external_id="oslo")
    assert done.outcome == "created"
    # The same document again changes nothing and records nothing.
    assert platform.knowledge.ingest("Oslo", "Oslo is the capital of Norway.", external_id="oslo").outcome == "unchanged"
    context = platform.contexts.create(title="trip")

    events = platform.events.query(stream="documents")
    assert [e["type"] for e in events] == ["document.ingested"]
    assert events[0]["data"]["id"] == done.document_id
    assert events[0]["source"] == "sp"
    created = platform.events.query(stream="contexts")
    assert [e["data"]["id"] for e in created] == [context["id"]]

    # Contexts search the platform's knowledge for the last user turn.
    ctx = platform.contexts
    ctx.append(context["id"], "user", "What is the capital of Norway?")
    prompt = ctx.assemble(context["id"], context_window=1024)
    assert any("Oslo" in hit["text"] for hit in prompt["retrieved"])


def test_a_bad_location_is_a_coded_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    try:
        sp.Platform.open(str(blocker / "store"))
    except sp.Error as err:
        assert err.code.startswith("SP-")
    else:
        raise AssertionError("opening under a file must fail")
