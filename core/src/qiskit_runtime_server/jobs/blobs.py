"""Large job data (params, results, failure texts) is stored zlib-compressed."""

from __future__ import annotations

import zlib


def compress(text: str) -> bytes:
    # Level 1: most of the gain (results are repetitive JSON and base64) at little CPU.
    return zlib.compress(text.encode(), 1)


def decompress(blob: bytes) -> str:
    return zlib.decompress(blob).decode()
