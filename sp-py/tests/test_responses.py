"""`Platform.respond`: OpenAI's Responses model in process — a stored chain continued by id,
read back, not stored on request, and refused with coded errors."""

import asyncio
import uuid

import pytest

import story_portal as sp


def options(location):
    return {"schema": f"py_{uuid.uuid4().hex}"} if location.startswith("postgres") else {}


def test_a_chain_is_stored_continued_and_read_back(location, model):
    platform = sp.Platform.open(location, model=model, **options(location))
    first = platform.respond("My name is Ada.", instructions="Answer briefly.", max_tokens=16, temperature=0)
    assert first["id"].startswith("resp_") and first["object"] == "response"
    assert first["output"][0]["content"][0]["text"]
    second = platform.respond("What is my name?", previous_response_id=first["id"],
                              instructions="Answer briefly.", max_tokens=16, temperature=0)
    assert second["previous_response_id"] == first["id"]
    # The second prompt holds the first turn and its reply whole.
    assert second["usage"]["input_tokens"] > first["usage"]["input_tokens"] + first["usage"]["output_tokens"]
    assert platform.response(second["id"]) == second
    async def go():
        return await platform.arespond("And again?", previous_response_id=second["id"], max_tokens=8,
                                       temperature=0)

    again = asyncio.run(go())
    assert again["previous_response_id"] == second["id"]


def test_tools_are_enforced_and_unstored_responses_are_not_kept(location, model):
    platform = sp.Platform.open(location, model=model, **options(location))
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    called = platform.respond("Weather in Paris?", tools=[weather], tool_choice="required", max_tokens=48,
                              temperature=0, store=False)
    assert called["output"][-1]["type"] == "function_call"
    assert called["output"][-1]["name"] == "get_weather"
    with pytest.raises(sp.NotFoundError):
        platform.response(called["id"])
    with pytest.raises(sp.NotFoundError):
        platform.respond("Hi", previous_response_id="resp_nothing", max_tokens=4)


def test_a_platform_without_a_model_refuses(location):
    platform = sp.Platform.open(location, **options(location))
    with pytest.raises(sp.UnavailableError):
        platform.respond("Hi")


def test_a_bare_model_responds_with_chains_in_memory(model):
    first = model.respond("My name is Ada.", instructions="Answer briefly.", max_tokens=16, temperature=0)
    assert first["id"].startswith("resp_") and first["object"] == "response"
    second = model.respond("What is my name?", previous_response_id=first["id"], max_tokens=16, temperature=0)
    assert second["previous_response_id"] == first["id"]
    assert second["usage"]["input_tokens"] > first["usage"]["input_tokens"] + first["usage"]["output_tokens"]

    async def go():
        return await model.arespond("And again?", previous_response_id=second["id"], max_tokens=8, temperature=0)

    assert asyncio.run(go())["previous_response_id"] == second["id"]
    # An id this model never made is not found.
    with pytest.raises(sp.NotFoundError):
        model.respond("Hi", previous_response_id="resp_" + "0" * 56, max_tokens=4)
