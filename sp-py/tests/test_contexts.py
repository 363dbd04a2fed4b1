"""Contexts from Python: messages, memory, assembly and chat turns with the real model."""

import asyncio
import uuid

import pytest

import story_portal as sp


@pytest.fixture
def contexts(location, model):
    schema = {"schema": f"py_{uuid.uuid4().hex}"} if location.startswith("postgres") else {}
    return sp.Contexts.open(location, model=model, **schema)


def test_messages_memory_and_assembly(contexts):
    context = contexts.create(title="Trip", system_prompt="You are a travel agent.", agent="planner")
    first = contexts.append(context["id"], "user", "I want to visit Oslo.")
    second = contexts.append(context["id"], "assistant", "Oslo is lovely in June.")
    assert first["seq"] < second["seq"] and first["token_count"] > 0
    stored = contexts.messages(context["id"])
    assert [m["content"] for m in stored] == ["I want to visit Oslo.", "Oslo is lovely in June."]
    assert contexts.messages(context["id"], after=first["seq"])[0]["role"] == "assistant"

    contexts.remember("traveller", "The traveller is vegetarian.", agent="planner")
    prompt = contexts.assemble(context["id"], context_window=1024, reply_tokens=128)
    system = prompt["messages"][0]
    assert system["role"] == "system"
    assert "travel agent" in system["content"] and "vegetarian" in system["content"]
    assert [m["content"] for m in prompt["messages"][1:]] == [m["content"] for m in stored]
    assert 0 < prompt["prompt_tokens"] <= 1024 - 128


def test_chat_turns_store_both_sides(contexts, model):
    context = contexts.create(system_prompt="Answer in one short sentence.")
    turn = contexts.chat(context["id"], "What is the capital of France?", temperature=0, max_tokens=16)
    assert "Paris" in turn["text"]
    assert turn["usage"]["completion_tokens"] > 0
    stored = contexts.messages(context["id"])
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[1]["content"] == turn["text"]
    # The same turn as a direct chat of the assembled prompt: the model saw exactly it.
    direct = model.chat(turn["prompt"]["messages"], temperature=0, max_tokens=16)
    assert direct.text == turn["text"]

    async def follow_up():
        return await contexts.achat(context["id"], "And of Italy?", temperature=0, max_tokens=16)

    second = asyncio.run(follow_up())
    assert second["text"]
    assert len(contexts.messages(context["id"])) == 4


def test_bad_input_is_coded(contexts):
    context = contexts.create()
    cases = [
        (lambda: contexts.append("nope", "user", "hi"), sp.InvalidInputError, "SP-VAL-001"),
        (lambda: contexts.append(context["id"], "wizard", "hi"), sp.InvalidInputError, "SP-VAL-001"),
        (lambda: contexts.append(str(uuid.uuid4()), "user", "hi"), sp.NotFoundError, "SP-RES-001"),
        (lambda: contexts.remember("n", "c"), sp.InvalidInputError, "SP-VAL-001"),
        (lambda: contexts.chat(context["id"], "hi", max_tokens=5000), sp.ContextLengthExceededError, "SP-LLM-001"),
    ]
    for call, exception, code in cases:
        with pytest.raises(exception) as raised:
            call()
        assert raised.value.code == code, raised.value
    assert contexts.messages(context["id"]) == [], "a refused turn stores nothing"


def test_facts_are_kept_with_their_history(contexts):
    context = contexts.create(extract_facts=True)
    assert context["extract_facts"] is True
    oslo = contexts.add_fact(context["id"], "user", "city", "Oslo", confidence=0.7)
    assert oslo["outcome"] == "added"
    moved = contexts.add_fact(context["id"], "I", "City", "Bergen")
    assert moved["outcome"] == "superseded"
    assert moved["previous"]["id"] == oslo["fact"]["id"]
    assert [f["value"] for f in contexts.facts(context["id"])] == ["Bergen"]
    history = contexts.facts(context["id"], history=True)
    assert [f["value"] for f in history] == ["Bergen", "Oslo"]
    then = contexts.facts(context["id"], as_of=oslo["fact"]["valid_from"])
    assert [f["value"] for f in then] == ["Oslo"]
    hits = contexts.search_facts(context["id"], "city")
    assert hits[0]["fact"]["value"] == "Bergen"
    fixed = contexts.edit_fact(context["id"], moved["fact"]["id"], value="Bergen, Norway")
    assert fixed["value"] == "Bergen, Norway"
    contexts.forget_fact(context["id"], fixed["id"])
    assert contexts.facts(context["id"]) == []

    async def history():
        return await contexts.afacts(context["id"], history=True)

    assert len(asyncio.run(history())) == 1

    with pytest.raises(sp.InvalidInputError):
        contexts.facts(context["id"], as_of="yesterday")
    with pytest.raises(sp.InvalidInputError):
        contexts.add_fact(context["id"], "", "city", "Oslo")
    with pytest.raises(sp.NotFoundError):
        contexts.facts(str(uuid.uuid4()))
