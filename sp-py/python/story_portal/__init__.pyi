__version__: str

def error_codes() -> list[tuple[str, int, str]]:
    """The stable error codes as (code, http_status, meaning)."""
