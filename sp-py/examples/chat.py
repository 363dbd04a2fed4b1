"""Streaming chat with a local model, from Python.

Run with: python sp-py/examples/chat.py [MODEL.gguf]   (after `pip install ./sp-py`;
the default is the test model that scripts/models.sh fetches).
"""

import os
import sys

import story_portal as sp

default = os.path.expanduser("~/.cache/story-portal/models/SmolLM2-135M-Instruct.Q4_1.gguf")
model = sp.Model(sys.argv[1] if len(sys.argv) > 1 else default)
history = [{"role": "system", "content": "You are a concise assistant."}]
print(f"{model.info['id']}: ask something (empty line to quit)")
while True:
    question = input("> ").strip()
    if not question:
        break
    history.append({"role": "user", "content": question})
    stream = model.stream(history, temperature=0.7, max_tokens=256)
    answer = ""
    for delta in stream:
        answer += delta
        print(delta, end="", flush=True)
    print(f"\n[{stream.finish_reason}, {stream.usage['completion_tokens']} tokens]")
    history.append({"role": "assistant", "content": answer})
