"""The official `anthropic` package against a running `sp`, unmodified.

Usage: python anthropic_client.py BASE_URL API_KEY MODEL
Prints one JSON object with what it saw; the Rust test asserts on it.
"""

import json
import sys

import anthropic
import pydantic

base_url, api_key, model = sys.argv[1], sys.argv[2], sys.argv[3]
# The client sends its key as `x-api-key`, as it does to Anthropic.
client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0)
seen = {}

SYSTEM = "Answer briefly."
# This SDK no longer offers `temperature`; the API (ours too) still takes it.
GREEDY = {"temperature": 0}
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]

counted = client.messages.count_tokens(model=model, system=SYSTEM, messages=QUESTION)
seen["counted"] = counted.input_tokens

whole = client.messages.create(model=model, system=SYSTEM, messages=QUESTION, max_tokens=16, extra_body=GREEDY)
seen["text"] = whole.content[0].text
seen["content_types"] = [block.type for block in whole.content]
seen["stop_reason"] = whole.stop_reason
seen["id"] = whole.id
seen["input_tokens"] = whole.usage.input_tokens + (whole.usage.cache_read_input_tokens or 0)
seen["output_tokens"] = whole.usage.output_tokens

# Streaming through the client's own helper, which reads every event type.
with client.messages.stream(model=model, system=SYSTEM, messages=QUESTION, max_tokens=16,
                            extra_body=GREEDY) as stream:
    seen["stream_text"] = "".join(stream.text_stream)
    final = stream.get_final_message()
seen["stream_final"] = final.content[0].text
seen["stream_stop_reason"] = final.stop_reason
seen["stream_output_tokens"] = final.usage.output_tokens

COUNT = [{"role": "user", "content": "Count from one to ten in words, separated by commas."}]
free = client.messages.create(model=model, messages=COUNT, max_tokens=40, extra_body=GREEDY)
# Stop at the second word the model writes.
stop = free.content[0].text.split()[1]
stopped = client.messages.create(model=model, messages=COUNT, max_tokens=40, extra_body=GREEDY,
                                 stop_sequences=[stop])
seen["stop_sequence_reason"] = stopped.stop_reason
seen["stop_sequence"] = stopped.stop_sequence
seen["stop_asked"] = stop
seen["stopped_before_it"] = stopped.content[0].text == free.content[0].text[:free.content[0].text.find(stop)]

# A tool round trip: a forced call, its result as a `tool_result` block, then an answer.
weather = {
    "name": "get_weather",
    "description": "The current weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
ask = [{"role": "user", "content": "What is the weather in Paris?"}]
called = client.messages.create(model=model, messages=ask, tools=[weather],
                                tool_choice={"type": "tool", "name": "get_weather"}, max_tokens=64, extra_body=GREEDY)
use = next(block for block in called.content if block.type == "tool_use")
seen["tool_stop_reason"] = called.stop_reason
seen["tool_name"] = use.name
seen["tool_input"] = use.input
answered = client.messages.create(
    model=model,
    messages=ask + [
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in called.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "Sunny, 21 C"}]},
    ],
    tools=[weather], tool_choice={"type": "none"}, max_tokens=32, extra_body=GREEDY)
seen["tool_answer_types"] = [block.type for block in answered.content]
seen["tool_answer"] = answered.content[0].text

# The streamed call, assembled by the client from `input_json_delta` events.
with client.messages.stream(model=model, messages=ask, tools=[weather], tool_choice={"type": "any"},
                            max_tokens=64, extra_body=GREEDY) as stream:
    streamed = stream.get_final_message()
streamed_use = next(block for block in streamed.content if block.type == "tool_use")
seen["streamed_tool"] = {"name": streamed_use.name, "input": streamed_use.input}
seen["whole_tool"] = {"name": use.name, "input": use.input}

# Structured output through the client's `parse` helper and `output_config.format`.



class City(pydantic.BaseModel):
    name: str
    country: str


parsed = client.messages.parse(model=model, messages=[{"role": "user", "content": "Name a city in Japan."}],
                               output_format=City, max_tokens=64, extra_body=GREEDY)
seen["parsed"] = parsed.parsed_output.model_dump()

# Errors arrive in Anthropic's shape, our code inside, as the client's exceptions.
try:
    client.messages.create(model=model, messages=QUESTION, max_tokens=8,
                           extra_body={"thinking": {"type": "enabled", "budget_tokens": 1024}})
except anthropic.BadRequestError as err:
    seen["refused"] = {"status": err.status_code, "type": err.body["error"]["type"],
                       "code": err.body["error"]["code"], "outer": err.body["type"]}
try:
    client.post("/v1/messages", body={"model": model, "messages": QUESTION}, cast_to=object)
except anthropic.BadRequestError as err:
    seen["no_max_tokens"] = err.body["error"]["code"]
try:
    client.messages.create(model="claude-none", messages=QUESTION, max_tokens=8)
except anthropic.NotFoundError as err:
    seen["unknown_model"] = err.body["error"]["type"]
try:
    anthropic.Anthropic(base_url=base_url, api_key="wrong", max_retries=0).messages.create(
        model=model, messages=QUESTION, max_tokens=8)
except anthropic.AuthenticationError as err:
    seen["unauthorized"] = err.status_code

print(json.dumps(seen))
