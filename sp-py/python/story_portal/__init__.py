"""Story Portal for Python: the in-process engine of the Rust SDK.

Models run in this process (llama.cpp), the knowledge store is a directory (SQLite) or
PostgreSQL. Blocking calls release the GIL; every blocking call has an asyncio variant
named with an ``a`` prefix (``chat`` / ``achat``). Errors are :class:`Error` subclasses
whose ``.code`` is the stable code of ``docs/errors.md``.
"""

from ._story_portal import (
    Agents,
    AsyncTokenStream,
    Completion,
    ConflictError,
    Contexts,
    ContextLengthExceededError,
    Error,
    Events,
    Hit,
    Ingested,
    InvalidInputError,
    KnowledgeStore,
    Model,
    ModelLoadError,
    Models,
    NotFoundError,
    OverloadedError,
    Platform,
    Registry,
    RunEvents,
    Server,
    TokenStream,
    TooLargeError,
    UnavailableError,
    Workflows,
    __version__,
    error_codes,
    serve,
)

__all__ = [
    "Agents",
    "AsyncTokenStream",
    "Completion",
    "ConflictError",
    "Contexts",
    "ContextLengthExceededError",
    "Error",
    "Events",
    "Hit",
    "Ingested",
    "InvalidInputError",
    "KnowledgeStore",
    "Model",
    "ModelLoadError",
    "Models",
    "NotFoundError",
    "OverloadedError",
    "Platform",
    "Registry",
    "RunEvents",
    "Server",
    "TokenStream",
    "TooLargeError",
    "UnavailableError",
    "Workflows",
    "__version__",
    "error_codes",
    "serve",
]
