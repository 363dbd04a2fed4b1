"""`Agents`: a model and tool loop run with the real model (a researcher searching the notes), recorded event by event — and
what the record allows: a stream of the events, approval, replay, fork."""

import uuid

import pytest

import story_portal as sp


def options(location):
    return {"schema": f"py_{uuid.uuid4().hex}"} if location.startswith("postgres") else {}


RESEARCHER = {
    "name": "researcher",
    "instructions": "Search the notes, then answer in one sentence.",
    "tools": [{"builtin": "knowledge_search"}],
    "tool_choice": "required",
    "max_calls": {"knowledge_search": 1},
    "max_steps": 3,
    "max_tokens": 64,
}
QUESTION = "What does Miso like?"


def researcher(platform):
    platform.knowledge.ingest("Pets", "Miso is a grey cat who likes tea.")
    agents = platform.agents
    assert agents.define(RESEARCHER)["version"] == 1
    return agents


def test_a_run_is_recorded_streamed_replayed_and_forked(location, model):
    agents = researcher(sp.Platform.open(location, model=model, **options(location)))
    done = agents.run("researcher", QUESTION)
    assert done["status"] == "succeeded", done
    assert done["steps"] == 2
    events = agents.events(done["id"])
    assert [e["type"] for e in events] == [
        "started", "model_output", "tool_call_started", "tool_result", "model_output", "finished",
    ]
    assert events[1]["tool_calls"][0]["name"] == "knowledge_search"
    assert "tea" in events[3]["output"]["hits"][0]["text"]
    assert [e["seq"] for e in agents.stream(done["id"])] == [e["seq"] for e in events]
    replay = agents.replay(done["id"])
    assert replay["matches"] and replay["output"] == done["output"]
    fork = agents.fork(done["id"], 2)
    assert agents.wait(fork["id"])["output"] == done["output"]


def test_approval_pauses_a_run_until_a_person_decides(tmp_path, model):
    agents = researcher(sp.Platform.open(str(tmp_path / "store"), model=model))
    agents.define({**RESEARCHER, "approval": {"knowledge_search": "approve"}})
    waiting = agents.run("researcher", QUESTION)
    assert waiting["status"] == "waiting_approval", repr(agents.events(waiting["id"])[1:])
    asked = agents.events(waiting["id"])[-1]
    assert asked["type"] == "approval_requested"
    with pytest.raises(sp.ConflictError):
        agents.approve(waiting["id"], "call_9_9")
    agents.approve(waiting["id"], asked["call_id"])
    done = agents.wait(waiting["id"])
    assert done["status"] == "succeeded", done
    results = [e for e in agents.events(done["id"]) if e["type"] == "tool_result"]
    assert results[0]["call_id"] == asked["call_id"]


def test_bad_definitions_are_coded_errors(tmp_path):
    agents = sp.Platform.open(str(tmp_path / "store")).agents
    with pytest.raises(sp.InvalidInputError) as err:
        agents.define({"name": "x", "max_steps": 0})
    assert err.value.code == "SP-VAL-001"
    with pytest.raises(sp.Error) as err:
        agents.define({"name": "x", "tools": [{"builtin": "teleport"}]})
    assert err.value.code == "SP-AGT-001"
    with pytest.raises(sp.NotFoundError):
        agents.start("nobody", "hello")
