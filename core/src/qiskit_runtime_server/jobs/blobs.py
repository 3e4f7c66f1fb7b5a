"""Large job data (params, results, failure texts) is stored zlib-compressed."""

from __future__ import annotations

import zlib


def compress(text: str) -> bytes:
    # Level 1: most of the gain (results are repetitive JSON and base64) at little CPU.
    return zlib.compress(text.encode(), 1)


def decompress(blob: bytes) -> str:
    return zlib.decompress(blob).decode()


def decompress_at_most(blob: bytes, limit: int) -> bytes | None:
    """The decompressed bytes if there are at most ``limit`` of them, else None (without
    inflating more than that: a small blob of repetitive text can expand a thousandfold)."""
    inflater = zlib.decompressobj()
    data = inflater.decompress(blob, limit + 1)
    if len(data) > limit or inflater.unconsumed_tail:
        return None
    return data + inflater.flush()
