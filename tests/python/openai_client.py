"""The official `openai` package against a running `sp`, unmodified.

Usage: python openai_client.py BASE_URL API_KEY
Prints one JSON object with what it saw; the Rust test asserts on it.
"""

import json
import sys

import openai

base_url, api_key = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
seen = {}

models = client.models.list()
model = models.data[0].id
seen["model"] = model

chat = client.chat.completions.create(
    model=model,
    messages=[
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is the capital of France?"},
    ],
    max_tokens=12,
    temperature=0,
)
seen["chat"] = chat.choices[0].message.content
seen["chat_finish"] = chat.choices[0].finish_reason
seen["chat_usage"] = chat.usage.total_tokens

parts = []
stream = client.chat.completions.create(
    model=model,
    messages=[
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is the capital of France?"},
    ],
    max_tokens=12,
    temperature=0,
    stream=True,
    stream_options={"include_usage": True},
)
stream_usage = None
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        parts.append(chunk.choices[0].delta.content)
    if chunk.usage is not None:
        stream_usage = chunk.usage.completion_tokens
seen["stream"] = "".join(parts)
seen["stream_usage"] = stream_usage

embedding = client.embeddings.create(model=model, input=["a cat", "a dog"])
seen["embeddings"] = [len(e.embedding) for e in embedding.data]

completion = client.completions.create(model=model, prompt="The capital of France is", max_tokens=5, temperature=0)
seen["completion"] = completion.choices[0].text

# Tools: a forced call, its result sent back as `role: tool`, then an answer.
tools = [{
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
        "strict": True,
    },
}]
messages = [{"role": "user", "content": "What is the weather in Oslo?"}]
called = client.chat.completions.create(
    model=model, messages=messages, tools=tools, tool_choice="required",
    parallel_tool_calls=False, temperature=0, max_tokens=64,
)
message = called.choices[0].message
call = message.tool_calls[0]
seen["tool_finish"] = called.choices[0].finish_reason
seen["tool_name"] = call.function.name
seen["tool_arguments"] = json.loads(call.function.arguments)
messages.append(message)  # the client's own message object, as its docs show
messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps({"celsius": 4})})
answered = client.chat.completions.create(
    model=model, messages=messages, tools=tools, tool_choice="none", temperature=0, max_tokens=24,
)
seen["tool_answer"] = answered.choices[0].message.content
seen["tool_answer_calls"] = answered.choices[0].message.tool_calls

# The same call streamed, assembled by the client's own stream helper.
with client.chat.completions.stream(
    model=model, messages=messages[:1], tools=tools, tool_choice="required",
    parallel_tool_calls=False, temperature=0, max_tokens=64,
) as streamed:
    final = streamed.get_final_completion()
streamed_call = final.choices[0].message.tool_calls[0]
seen["streamed_tool"] = [streamed_call.function.name, streamed_call.function.arguments]
seen["whole_tool"] = [call.function.name, call.function.arguments]

# Structured output through the client's `parse` helper and a pydantic model.
import pydantic  # noqa: E402  (the openai package depends on it)


class City(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=24)
    country: str = pydantic.Field(max_length=24)
    population_millions: int = pydantic.Field(ge=0, le=100)


parsed = client.chat.completions.parse(
    model=model,
    messages=[{"role": "user", "content": "Describe Paris as JSON."}],
    response_format=City, temperature=0, max_tokens=160,
)
seen["parsed"] = parsed.choices[0].message.parsed.model_dump()

# n = 3 with a seed: three choices.
several = client.chat.completions.create(
    model=model, messages=[{"role": "user", "content": "Name a colour."}],
    n=3, seed=5, temperature=1, max_tokens=8, logprobs=True, top_logprobs=2,
)
seen["choices"] = len(several.choices)
seen["logprobs_ok"] = all(
    t.logprob <= 0 and len(t.top_logprobs) == 2
    for choice in several.choices for t in choice.logprobs.content
)

try:
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=-1)
    seen["bad_request"] = None
except openai.BadRequestError as err:
    seen["bad_request"] = err.body.get("code") if isinstance(err.body, dict) else str(err.body)

try:
    openai.OpenAI(base_url=base_url, api_key="sp_000000000000_00", max_retries=0).models.list()
    seen["unauthorized"] = None
except openai.AuthenticationError as err:
    seen["unauthorized"] = err.status_code

print(json.dumps(seen))
