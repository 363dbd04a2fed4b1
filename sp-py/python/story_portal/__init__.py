"""Story Portal for Python: the in-process engine of the Rust SDK."""

from ._story_portal import __version__, error_codes

__all__ = ["__version__", "error_codes"]
