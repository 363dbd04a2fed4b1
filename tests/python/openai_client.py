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
