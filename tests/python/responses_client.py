"""The official `openai` package's Responses API against a running `sp`, unmodified.

Usage: python responses_client.py BASE_URL API_KEY MODEL first
       python responses_client.py BASE_URL API_KEY MODEL again RESPONSE_ID
Prints one JSON object with what it saw; the Rust test asserts on it.
"""

import json
import sys
import time

import openai

base_url, api_key, model, phase = sys.argv[1:5]
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
seen = {}
ASK = {"model": model, "instructions": "Answer briefly.", "max_output_tokens": 24, "temperature": 0}

if phase == "again":
    # After a restart: the chain is still there.
    again = client.responses.create(previous_response_id=sys.argv[5], input="What is my name?", **ASK)
    seen["status"] = again.status
    seen["text"] = again.output_text
    seen["input_tokens"] = again.usage.input_tokens
    seen["cached_tokens"] = again.usage.input_tokens_details.cached_tokens
    seen["previous"] = again.previous_response_id
    print(json.dumps(seen))
    sys.exit(0)

first = client.responses.create(input="Hello! My name is Ada. Please remember my name.", **ASK)
second = client.responses.create(previous_response_id=first.id, input="What is two plus two?", **ASK)
third = client.responses.create(previous_response_id=second.id, input="What is my name? Reply with my name only.", **ASK)
seen["ids"] = [first.id, second.id, third.id]
seen["texts"] = [first.output_text, second.output_text, third.output_text]
seen["input_tokens"] = [r.usage.input_tokens for r in (first, second, third)]
seen["output_tokens"] = [r.usage.output_tokens for r in (first, second, third)]
seen["cached_tokens"] = third.usage.input_tokens_details.cached_tokens
seen["status"] = third.status
seen["object"] = third.object

got = client.responses.retrieve(third.id)
seen["retrieved"] = {"id": got.id, "text": got.output_text, "previous": got.previous_response_id}

# A function tool the client answers: the call, then its output as an input item.
weather = {"type": "function", "name": "get_weather", "description": "The weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                          "additionalProperties": False}}
called = client.responses.create(model=model, input="What is the weather in Paris?", tools=[weather],
                                 tool_choice="required", max_output_tokens=48, temperature=0)
call = next(item for item in called.output if item.type == "function_call")
seen["call"] = {"name": call.name, "arguments": json.loads(call.arguments)}
answered = client.responses.create(model=model, previous_response_id=called.id, tools=[weather],
                                   tool_choice="none", max_output_tokens=24, temperature=0,
                                   input=[{"type": "function_call_output", "call_id": call.call_id,
                                           "output": "Sunny, 21 C"}])
seen["answer_types"] = [item.type for item in answered.output]
seen["answer"] = answered.output_text

# Our extension: a built-in the server runs as an agent run, its call an `mcp_call` item.
remembered = client.responses.create(
    model=model, input="Remember that my favourite colour is green.", max_output_tokens=48,
    tools=[{"type": "builtin", "name": "memory_append", "max_calls": 1}],
    tool_choice={"type": "function", "name": "memory_append"})
calls = [item for item in remembered.output if item.type == "mcp_call"]
seen["server_tool"] = {"classes": [type(item).__name__ for item in calls],
                       "names": [item.name for item in calls], "labels": [item.server_label for item in calls],
                       "text": remembered.output_text, "run": getattr(remembered, "agent_run_id", None)}

# Streaming: the raw typed events, then the client's own accumulating helper.
kinds = []
streamed_text = ""
completed = None
for event in client.responses.create(previous_response_id=first.id, input="What is two plus two?", stream=True, **ASK):
    kinds.append(event.type)
    if event.type == "response.output_text.delta":
        streamed_text += event.delta
    if event.type in ("response.completed", "response.incomplete"):
        completed = event.response
seen["stream_kinds"] = kinds
seen["stream_text"] = streamed_text
seen["stream_final"] = {"id": completed.id, "text": completed.output_text}
seen["stream_retrieved"] = client.responses.retrieve(completed.id).output_text
with client.responses.stream(model=model, input="What is the weather in Paris?", tools=[weather],
                             tool_choice="required", max_output_tokens=48, temperature=0) as stream:
    final = stream.get_final_response()
streamed_call = next(item for item in final.output if item.type == "function_call")
seen["stream_call"] = {"name": streamed_call.name, "arguments": json.loads(streamed_call.arguments)}

# Background: answered at once, polled to its end; another cancelled while it runs.
queued = client.responses.create(previous_response_id=first.id, input="Say hello.", background=True, **ASK)
seen["background_first"] = queued.status
polled = queued
for _ in range(600):
    polled = client.responses.retrieve(queued.id)
    if polled.status not in ("queued", "in_progress"):
        break
    time.sleep(0.05)
seen["background_final"] = {"status": polled.status, "text": polled.output_text, "previous": polled.previous_response_id}
long = client.responses.create(input="Write a long story about a dragon.", background=True, model=model,
                               max_output_tokens=400, temperature=0)
cancelled = client.responses.cancel(long.id)
seen["cancelled"] = cancelled.status
seen["cancelled_polled"] = client.responses.retrieve(long.id).status
try:
    client.responses.cancel(queued.id)
except openai.ConflictError as err:
    seen["cancel_finished"] = err.code

# Deleted: newest first (a response later ones build on is refused), then gone.
try:
    client.responses.delete(called.id)
except openai.ConflictError as err:
    seen["delete_built_on"] = err.code
client.responses.delete(answered.id)
client.responses.delete(called.id)
try:
    client.responses.retrieve(answered.id)
except openai.NotFoundError as err:
    seen["deleted"] = err.code
# A cancelled background response is forgotten too.
client.responses.delete(long.id)
try:
    client.responses.retrieve(long.id)
except openai.NotFoundError as err:
    seen["deleted_cancelled"] = err.code

# Not stored: not retrievable.
loose = client.responses.create(input="Hi", store=False, **ASK)
try:
    client.responses.retrieve(loose.id)
except openai.NotFoundError as err:
    seen["unstored"] = err.body["code"] if isinstance(err.body, dict) and "code" in err.body else err.status_code

# Refusals: the client's own exceptions with our codes.
try:
    client.responses.create(input="Hi", background=True, store=False, **ASK)
except openai.BadRequestError as err:
    seen["background"] = err.code
try:
    client.responses.create(input="Hi", previous_response_id="resp_nothing", **ASK)
except openai.NotFoundError as err:
    seen["unknown_previous"] = err.code

print(json.dumps(seen))
