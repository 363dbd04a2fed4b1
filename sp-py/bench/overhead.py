"""The bindings' cost: the same calls from Python and from Rust, in one process.

Run with: scripts/bench-python.sh (a release wheel in a fresh venv), or with story_portal
installed: python sp-py/bench/overhead.py MODEL.gguf

Prints, per call: Python time, Rust time (a Rust loop inside the same library, see
sp-py/src/bench.rs) and the difference, which is what the bindings add; and generation
tokens/s of one greedy 128-token chat from Python and from Rust (median of 5 each).
"""

import os
import statistics
import sys
import tempfile
import time

import story_portal as sp
from story_portal import _story_portal as native


def per_call(call, calls: int) -> float:
    call()
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ["SP_TEST_MODEL"]
    model = sp.Model(path, slots=1, context_per_slot=1024)
    store = sp.KnowledgeStore.open(tempfile.mkdtemp(prefix="sp-bench-"))
    for n in range(50):
        store.ingest(f"Note {n}", f"Note number {n} talks about topic {n % 7} and city {n % 5}.")

    text = "The quick brown fox jumps over the lazy dog."
    rows = []
    best = lambda f: min(f() for _ in range(5))  # noqa: E731
    py = best(lambda: per_call(lambda: model.count_tokens(text), 20_000))
    rust = best(lambda: native._rust_count_tokens(model, text, 20_000))
    rows.append(("count_tokens", py, rust))
    py = best(lambda: per_call(lambda: store.search("topic 3 city 2", k=5), 2_000))
    rust = best(lambda: native._rust_search(store, "topic 3 city 2", 5, 2_000))
    rows.append(("search, cached (k=5)", py, rust))

    print("| call | Python | Rust | bindings add |")
    print("|---|---|---|---|")
    for name, py, rust in rows:
        print(f"| {name} | {py * 1e6:.2f} µs | {rust * 1e6:.2f} µs | {(py - rust) * 1e6:.2f} µs |")

    prompt = "Write a long story about a lighthouse keeper."
    messages = [{"role": "user", "content": prompt}]

    def python_rate() -> float:
        started = time.perf_counter()
        done = model.chat(messages, temperature=0, max_tokens=128, ignore_eos=True)
        return done.completion_tokens / (time.perf_counter() - started)

    py_rates, rust_rates = [], []
    for _ in range(5):  # interleaved, so drift hits both alike
        py_rates.append(python_rate())
        rust_rates.append(native._rust_generation(model, prompt, 128))
    py_rate, rust_rate = statistics.median(py_rates), statistics.median(rust_rates)
    print()
    print("| generation, 128 tokens greedy | tokens/s |")
    print("|---|---|")
    print(f"| Python `Model.chat` | {py_rate:.1f} |")
    print(f"| Rust `Engine::chat` | {rust_rate:.1f} |")
    print(f"| Python / Rust | {py_rate / rust_rate:.3f}× |")


if __name__ == "__main__":
    main()
