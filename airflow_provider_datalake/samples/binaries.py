"""Opaque blobs of any size (streamed, hashed) and a tiny PNG image, for the raw zone's non-text objects."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import zlib

from airflow_provider_datalake.samples.common import Target, open_binary

_BLOB_BLOCK = 1 << 16  # write_blob's bytes do not depend on the caller's chunk size


def write_blob(path_or_stream: Target, size: int, seed: int = 0, chunk: int = 1 << 20) -> str:
    """Write exactly ``size`` pseudo-random bytes in ``chunk``-sized writes; return their sha256 hex.

    For large-file tests and benchmarks (200 MB, 1 GiB) without keeping anything in memory. The bytes depend
    only on ``seed`` (not on ``chunk``), and a shorter blob is a prefix of a longer one with the same seed.
    """
    if size < 0 or chunk <= 0:
        raise ValueError(f"size must be >= 0 and chunk > 0, got size={size}, chunk={chunk}")
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    digest = hashlib.sha256()
    carry = b""  # drawn but not yet written (less than one block)
    remaining = size
    with open_binary(path_or_stream) as out:
        while remaining:
            want = min(chunk, remaining)
            parts, have = [carry], len(carry)
            while have < want:
                # Always draw whole blocks, so the bytes depend neither on size nor on chunk.
                parts.append(rng.randbytes(_BLOB_BLOCK))
                have += _BLOB_BLOCK
            data = memoryview(b"".join(parts))
            parts.clear()
            digest.update(data[:want])
            out.write(data[:want])
            carry = bytes(data[want:])  # copy the small tail so the big buffer can go
            del data
            remaining -= want
    return digest.hexdigest()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bytes(width: int, height: int, seed: int = 0) -> bytes:
    """A tiny valid RGB PNG (a seeded gradient with noise): a real image for the raw zone, built by hand."""
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    tint = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    raw = io.BytesIO()
    for y in range(height):
        raw.write(b"\x00")  # filter type: none
        for x in range(width):
            noise = rng.randrange(32)
            raw.write(
                bytes(
                    (
                        (tint[0] + x * 255 // max(width - 1, 1) + noise) % 256,
                        (tint[1] + y * 255 // max(height - 1, 1) + noise) % 256,
                        (tint[2] + noise) % 256,
                    )
                )
            )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw.getvalue(), 9))
        + _png_chunk(b"IEND", b"")
    )
