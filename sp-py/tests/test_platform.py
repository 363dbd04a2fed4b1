"""The service registry, the event log and the in-process server, from Python."""

import asyncio
import json
import threading
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import story_portal as sp

# The test services listen on loopback, which the hub refuses unless told (review finding H2).
LOOPBACK = ["127.0.0.1"]


def schema_of(location):
    return {"schema": f"py_{uuid.uuid4().hex}"} if location.startswith("postgres") else {}


class Calculator(BaseHTTPRequestHandler):
    """A tool service written in Python: it answers only while the caller releases the GIL."""

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        reply = json.dumps({"sum": body["a"] + body["b"]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


@pytest.fixture
def calculator():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Calculator)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_register_discover_invoke(location, calculator):
    registry = sp.Registry.open(location, allowed_networks=LOOPBACK, **schema_of(location))
    stored = registry.register({
        "name": "calc", "version": "1.0.0", "base_url": calculator, "tags": ["math"],
        "tools": [{"name": "add", "input_schema": {
            "type": "object", "required": ["a", "b"],
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}}],
    })
    assert stored["name"] == "calc" and stored["tools"][0]["name"] == "add"
    assert [s["name"] for s in registry.discover(tag="math")] == ["calc"]
    assert registry.discover(tag="poetry") == []
    assert registry.invoke("add", {"a": 2, "b": 3}) == {"sum": 5}

    async def concurrently():
        return await asyncio.gather(*(registry.ainvoke("add", {"a": n, "b": n}) for n in range(5)))

    assert [r["sum"] for r in asyncio.run(concurrently())] == [0, 2, 4, 6, 8]

    with pytest.raises(sp.InvalidInputError) as bad:
        registry.invoke("add", {"a": "two", "b": 3})
    assert bad.value.code == "SP-HUB-001"
    with pytest.raises(sp.NotFoundError) as unknown:
        registry.invoke("multiply", {"a": 1, "b": 2})
    assert unknown.value.code == "SP-HUB-002"
    with pytest.raises(sp.InvalidInputError):
        registry.register({"name": "bad name!", "version": "1"})
    registry.deregister("calc", "1.0.0")
    assert registry.discover(tag="math") == []


def test_append_query_replay(location):
    events = sp.Events.open(location, **schema_of(location))
    stored = [
        events.append("orders", "order.placed", {"n": n}, subject=f"orders/{n}", correlation_id="req-1")
        for n in range(1, 4)
    ]
    assert [e["offset"] for e in stored] == [1, 2, 3]
    assert stored[0]["specversion"] == "1.0" and stored[0]["data"] == {"n": 1}
    replay = events.query(stream="orders", from_offset=2)
    assert [e["data"]["n"] for e in replay] == [2, 3]
    assert len(events.query(correlation_id="req-1")) == 3
    assert [e["subject"] for e in events.query(subject="orders/2")] == ["orders/2"]

    with pytest.raises(sp.NotFoundError) as unknown:
        events.query(stream="nope")
    assert unknown.value.code == "SP-EVT-002"
    with pytest.raises(sp.InvalidInputError) as beyond:
        events.query(stream="orders", from_offset=9)
    assert beyond.value.code == "SP-EVT-003"
    with pytest.raises(sp.TooLargeError) as large:
        events.append("orders", "order.placed", {"blob": "x" * 300_000})
    assert large.value.code == "SP-EVT-001"
    with pytest.raises(sp.InvalidInputError):
        events.append("orders", "", {})
    assert len(events.query(stream="orders")) == 3, "refused events are not stored"


def request(url, method="GET", key=None, body=None):
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method)) as reply:
        return reply.status, json.loads(reply.read() or b"null")


def test_serve_runs_the_reference_server_in_process(tmp_path):
    with sp.serve(str(tmp_path)) as server:
        assert server.url.startswith("http://127.0.0.1:")
        status, health = request(server.url + "/health")
        assert status == 200 and health["status"] == "healthy"
        status, created = request(server.url + "/v1/documents", "POST", server.admin_key,
                                  {"title": "Served", "content": "From a notebook."})
        assert status == 201, created
        status, listed = request(server.url + "/v1/documents", key=server.admin_key)
        assert [d["title"] for d in listed["items"]] == ["Served"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            request(server.url + "/v1/documents", key="wrong")
        assert refused.value.code == 401
        url = server.url
    with pytest.raises(urllib.error.URLError):
        request(url + "/health")
    # The data stays: a new server on the same directory sees the document.
    with sp.serve(str(tmp_path), admin_key="sp_admin_" + "x" * 32,
                  settings={"server.max_body_bytes": 1024}) as again:
        _, listed = request(again.url + "/v1/documents", key=again.admin_key)
        assert [d["title"] for d in listed["items"]] == ["Served"]
        with pytest.raises(urllib.error.HTTPError) as too_large:
            request(again.url + "/v1/documents", "POST", again.admin_key,
                    {"title": "Big", "content": "x" * 4096})
        assert too_large.value.code == 413, "settings apply"
    with pytest.raises(sp.Error) as bad:
        sp.serve(str(tmp_path), settings={"server.listen": "nowhere"})
    assert bad.value.code == "SP-CFG-001"


def test_workflows_call_tools_decide_and_search(location, calculator):
    schema = schema_of(location)
    registry = sp.Registry.open(location, allowed_networks=LOOPBACK, **schema)
    registry.register({"name": "calc", "version": "1.0.0", "base_url": calculator,
                       "tools": [{"name": "add", "input_schema": {"type": "object"}}]})
    store = sp.KnowledgeStore.open(location, **schema)
    store.ingest("Oslo", "The capital of Norway is Oslo.")
    flows = sp.Workflows.open(location, registry=registry, knowledge=store, **schema)
    defined = flows.define({"name": "sum-then-search", "steps": [
        {"id": "add", "kind": "tool", "tool": "add", "arguments": {"a": "{{input.a}}", "b": 2}},
        {"id": "is_five", "kind": "condition", "value": "{{steps.add.output.sum}}", "equals": 5},
        {"id": "find", "kind": "search", "query": "capital of Norway", "k": 1, "when": "is_five"},
    ]})
    assert defined["version"] == 1

    run = flows.start("sum-then-search", {"a": 3}, correlation_id="py-run")
    assert run["status"] == "running" and run["correlation_id"] == "py-run"
    done = flows.wait(run["id"], 30)
    assert done["status"] == "succeeded", done
    steps = {s["id"]: s for s in done["steps"]}
    assert steps["add"]["output"] == {"sum": 5}
    assert steps["find"]["output"]["hits"][0]["title"] == "Oslo"
    other = flows.wait(flows.start("sum-then-search", {"a": 1})["id"], 30)
    assert [s["status"] for s in other["steps"]] == ["succeeded", "succeeded", "skipped"]
    assert flows.run(run["id"]) == done

    events = sp.Events.open(location, **schema).query(correlation_id="py-run")
    assert events[0]["type"] == "workflow.run.started"
    assert events[-1]["type"] == "workflow.run.succeeded"

    refusals = [
        ({"name": "w", "steps": [{"id": "a", "kind": "tool", "tool": "nowhere"}]}, "SP-WF-003"),
        ({"name": "w", "steps": [{"id": "a", "kind": "tool", "tool": "add", "needs": ["a"]}]}, "SP-WF-001"),
        ({"name": "w", "steps": [{"id": "a", "kind": "teleport"}]}, "SP-VAL-001"),
    ]
    for definition, code in refusals:
        with pytest.raises(sp.InvalidInputError) as refused:
            flows.define(definition)
        assert refused.value.code == code
    with pytest.raises(sp.ConflictError):
        flows.cancel(run["id"])
    with pytest.raises(sp.NotFoundError):
        flows.start("nope")

    # A planned stop: nothing is in flight here, and no run starts afterwards.
    assert flows.hand_back() == []
    with pytest.raises(sp.UnavailableError) as stopping:
        flows.start("sum-then-search", {"a": 3})
    assert stopping.value.code == "SP-GEN-002"


def test_every_call_has_an_asyncio_twin(location, calculator, model):
    schema = schema_of(location)
    registry = sp.Registry.open(location, allowed_networks=LOOPBACK, **schema)
    store = sp.KnowledgeStore.open(location, **schema)
    events = sp.Events.open(location, **schema)
    flows = sp.Workflows.open(location, registry=registry, knowledge=store, **schema)
    contexts = sp.Contexts.open(location, model=model, **schema)

    async def main():
        await registry.aregister({"name": "calc", "version": "1.0.0", "base_url": calculator,
                                  "tools": [{"name": "add", "input_schema": {"type": "object"}}]})
        found = await registry.adiscover(tool="add")
        added = await registry.ainvoke("add", {"a": 1, "b": 1})
        appended = await asyncio.gather(*(events.aappend("ticks", "tick", {"n": n}) for n in range(5)))
        ticks = await events.aquery(stream="ticks")
        await flows.adefine({"name": "once", "steps": [
            {"id": "add", "kind": "tool", "tool": "add", "arguments": {"a": 20, "b": 22}}]})
        started = await flows.astart("once")
        ended = await flows.await_run(started["id"], 30)
        same = await flows.arun(started["id"])
        context = await contexts.acreate(title="async", agent="bot")
        await contexts.aremember("fact", "The sky is green here.", agent="bot")
        await contexts.aappend(context["id"], "user", "Hello.")
        prompt = await contexts.aassemble(context["id"], context_window=512, reply_tokens=64)
        stored = await contexts.amessages(context["id"])
        await registry.aderegister("calc", "1.0.0")
        assert await flows.ahand_back() == []
        return found, added, appended, ticks, ended, same, prompt, stored

    found, added, appended, ticks, ended, same, prompt, stored = asyncio.run(main())
    assert [s["name"] for s in found] == ["calc"] and added == {"sum": 2}
    assert sorted(e["offset"] for e in appended) == [1, 2, 3, 4, 5]
    assert sorted(e["data"]["n"] for e in ticks) == [0, 1, 2, 3, 4]
    assert ended["status"] == "succeeded" and ended == same
    assert ended["output"] == {"add": {"sum": 42}}
    assert "sky is green" in prompt["messages"][0]["content"]
    assert [m["content"] for m in stored] == ["Hello."]
    assert registry.discover(tool="add") == []

    async def cancel_ended():
        return await flows.acancel(ended["id"])

    with pytest.raises(sp.ConflictError):
        asyncio.run(cancel_ended())
