"""The model from Python: chat, streaming, embeddings, tokens, errors, the GIL, asyncio."""

import asyncio
import json
import math
import threading
import time

import pytest

import story_portal as sp

# SmolLM2's own template adds a default system prompt when there is none, under which the 135M
# model rambles about this question; a plain one keeps it on topic.
QUESTION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]


def test_greedy_chat_is_deterministic_and_accounted(model):
    first = model.chat(QUESTION, temperature=0, max_tokens=16)
    second = model.chat(QUESTION, temperature=0, max_tokens=16)
    assert first.text == second.text
    assert "Paris" in first.text
    assert first.finish_reason in ("stop", "length")
    assert first.prompt_tokens > 0 and first.completion_tokens > 0
    assert second.cached_tokens > 0, "the repeated prompt is served from the cache"


def test_stop_sequences_and_max_tokens(model):
    whole = model.chat(QUESTION, temperature=0, max_tokens=16).text
    cut = model.chat(QUESTION, temperature=0, max_tokens=16, stop=["capital"])
    assert "capital" not in cut.text and whole.startswith(cut.text)
    short = model.chat(QUESTION, temperature=0, max_tokens=2)
    assert short.finish_reason == "length" and short.completion_tokens == 2


def test_stream_equals_chat_and_reports_how_it_ended(model):
    whole = model.chat(QUESTION, temperature=0, max_tokens=16)
    stream = model.stream(QUESTION, temperature=0, max_tokens=16)
    assert stream.finish_reason is None
    parts = list(stream)
    assert "".join(parts) == whole.text
    assert len(parts) > 1
    assert stream.finish_reason == whole.finish_reason
    assert stream.usage["completion_tokens"] == whole.completion_tokens


def test_a_closed_stream_frees_its_slot(model):
    for _ in range(6):  # more than the 4 slots: each close must free one
        stream = model.stream(QUESTION, temperature=0, max_tokens=200)
        next(stream)
        stream.close()
        assert list(stream) == []
    assert "Paris" in model.chat(QUESTION, temperature=0, max_tokens=16).text


def test_complete_continues_a_prompt(model):
    done = model.complete("One, two, three,", temperature=0, max_tokens=6)
    assert done.completion_tokens > 0 and done.text


def test_embeddings_are_unit_length_and_meaningful(model):
    cat, kitten, tax = model.embed(
        ["The cat sleeps on the sofa.", "A kitten naps on the couch.", "Quarterly tax filing deadlines."]
    )
    assert len(cat) == model.info["embedding_size"]
    for vector in (cat, kitten, tax):
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-4)
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731
    assert dot(cat, kitten) > dot(cat, tax)


def test_tokens_and_metadata(model):
    tokens = model.tokenize("Hello, world")
    assert tokens and all(isinstance(t, int) for t in tokens)
    assert model.count_tokens("Hello, world") == len(tokens)
    info = model.info
    assert info["architecture"] == "llama"
    assert info["vocab_size"] > 1000 and info["trained_context"] >= 2048
    assert "im_start" in (info["chat_template"] or "")


@pytest.mark.parametrize(
    ("options", "exception", "code"),
    [
        ({"temperature": 5}, sp.InvalidInputError, "SP-VAL-001"),
        ({"top_p": 0}, sp.InvalidInputError, "SP-VAL-001"),
        ({"tempurature": 1}, sp.InvalidInputError, "SP-VAL-001"),
        ({"max_tokens": 100_000}, sp.ContextLengthExceededError, "SP-LLM-001"),
    ],
)
def test_bad_sampling_is_a_coded_exception(model, options, exception, code):
    with pytest.raises(exception) as raised:
        model.chat(QUESTION, **options)
    assert raised.value.code == code
    assert isinstance(raised.value, sp.Error)


def test_bad_messages_are_refused(model):
    with pytest.raises(sp.InvalidInputError) as raised:
        model.chat([])
    assert raised.value.code == "SP-VAL-001"
    with pytest.raises(sp.InvalidInputError):
        model.chat([{"role": "wizard", "content": "hi"}])


def test_a_bad_model_path_is_a_coded_exception(tmp_path):
    with pytest.raises(sp.ModelLoadError) as missing:
        sp.Model(str(tmp_path / "missing.gguf"))
    assert missing.value.code == "SP-LLM-003" and missing.value.status == 422
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(sp.ModelLoadError):
        sp.Model(str(corrupt))


def test_generation_releases_the_gil(model):
    """A second Python thread keeps running while the model generates."""
    ticks = 0
    done = threading.Event()

    def count():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    started = time.perf_counter()
    model.chat(QUESTION, temperature=0, max_tokens=64, stop=["\n\n\n"])
    elapsed = time.perf_counter() - started
    done.set()
    counter.join()
    # Sleeping 1 ms per tick it would tick about once per ms; starved of the GIL, about
    # once in all. A loaded machine stretches the sleeps: ask for a twentieth.
    assert ticks >= max(5, int(elapsed * 1000 * 0.05)), (ticks, elapsed)


def test_asyncio_variants(model):
    async def main():
        sequential = model.chat(QUESTION, temperature=0, max_tokens=16).text
        answers = await asyncio.gather(
            *(model.achat(QUESTION, temperature=0, max_tokens=16) for _ in range(4))
        )
        stream = model.astream(QUESTION, temperature=0, max_tokens=16)
        parts = [part async for part in stream]
        completed = await model.acomplete("One, two, three,", temperature=0, max_tokens=4)
        vectors = await model.aembed(["a", "b"])
        return sequential, answers, parts, stream, completed, vectors

    sequential, answers, parts, stream, completed, vectors = asyncio.run(main())
    assert [a.text for a in answers] == [sequential] * 4, "concurrent greedy = sequential"
    assert "".join(parts) == sequential
    assert stream.finish_reason is not None
    assert completed.completion_tokens > 0
    assert len(vectors) == 2


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 24}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


def test_forced_tool_calls_and_the_round_trip(model):
    ask = [{"role": "user", "content": "Weather in Oslo?"}]
    reply = model.chat(ask, tools=[WEATHER], tool_choice="required", parallel_tool_calls=False,
                       temperature=0, max_tokens=64)
    assert reply.finish_reason == "tool_calls" and reply.text == ""
    (call,) = reply.tool_calls
    assert call["name"] == "get_weather" and call["id"].startswith("call_")
    assert isinstance(json.loads(call["arguments"])["city"], str)
    answer = model.chat(
        ask + [{"role": "assistant", "content": "", "tool_calls": reply.tool_calls},
               {"role": "tool", "tool_call_id": call["id"], "content": '{"celsius": 4}'}],
        tools=[WEATHER], tool_choice="none", temperature=0, max_tokens=24)
    assert answer.tool_calls == [] and answer.finish_reason in ("stop", "length")


def test_json_schema_replies_validate_and_bad_shapes_are_coded(model):
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}},
              "required": ["city"], "additionalProperties": False}
    reply = model.chat(QUESTION, response_format={"type": "json_schema",
                                                  "json_schema": {"name": "place", "schema": schema}},
                       temperature=0, max_tokens=48)
    assert reply.finish_reason == "stop"
    assert set(json.loads(reply.text)) == {"city"}
    with pytest.raises(sp.InvalidInputError) as bad:
        model.chat(QUESTION, tools={"not": "a list"})
    assert bad.value.code == "SP-VAL-001"
    with pytest.raises(sp.InvalidInputError) as unsupported:
        model.chat(QUESTION, response_format={"type": "json_schema", "json_schema": {
            "name": "x", "schema": {"type": "object", "properties": {"a": {"type": "array", "uniqueItems": True}}}}})
    assert unsupported.value.code == "SP-LLM-005" and "uniqueItems" in str(unsupported.value)


def test_logprobs_and_logit_bias(model):
    reply = model.chat(QUESTION, temperature=0, max_tokens=6, logprobs=3)
    assert len(reply.logprobs) >= 1
    for token in reply.logprobs:
        assert token["logprob"] <= 0
        tops = [t["logprob"] for t in token["top_logprobs"]]
        assert tops == sorted(tops, reverse=True) and len(tops) == 3
    first = model.tokenize(reply.text)[0]
    banned = model.chat(QUESTION, temperature=0, max_tokens=6, logit_bias={first: -100})
    assert first not in model.tokenize(banned.text)
