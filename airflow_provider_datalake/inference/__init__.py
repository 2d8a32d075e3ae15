"""Inference: a complete format descriptor guessed from the first bytes of a file or raw object.

    inference = infer_file("export.csv")          # or infer_chunks(swift.iter_object(...), filename=...)
    print(inference.yaml())                       # valid, loads back through the descriptor loader

Stages, one module each: `sniff` (encoding, shape, CSV dialect), `shapes` (what one value looks like),
`types` (per-field type and converters, verified by the project's own parser), `propose` (names, targets,
evidence, YAML), `evolution` (does a known descriptor take a new sample: same, additive or conflict),
`drafts` (draft descriptors in the catalog, per-container/application policy, the unknown-formats DAG's
work). `corpus` holds the messy files inference is measured on. The cost is that of the sample
(`SAMPLE_BYTES` from the start), whatever the size of the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from airflow_provider_datalake.inference.propose import (
    DEFAULT_STORES,
    Inference,
    format_name,
    propose,
    safe_identifier,
    to_yaml,
)
from airflow_provider_datalake.inference.sniff import (
    MAX_RECORDS,
    SAMPLE_BYTES,
    NotInferable,
    Sample,
    read_file_sample,
    read_sample,
    sniff,
)

__all__ = [
    "SAMPLE_BYTES",
    "Inference",
    "NotInferable",
    "format_name",
    "infer_chunks",
    "infer_file",
    "infer_sample",
    "safe_identifier",
    "to_yaml",
]


def infer_sample(
    sample: Sample,
    *,
    name: str | None = None,
    filename: str | None = None,
    source: str | None = None,
    stores: Sequence[str] = DEFAULT_STORES,
    max_records: int = MAX_RECORDS,
) -> Inference:
    """The descriptor for a sample; raises NotInferable for what no parser here reads (binary, empty)."""
    encoding, table = sniff(sample, max_records)
    return propose(
        table,
        encoding,
        sample,
        name=name or format_name(filename),
        source=source or filename,
        stores=stores,
    )


def infer_chunks(chunks: Iterable[bytes], *, max_bytes: int = SAMPLE_BYTES, **kwargs: object) -> Inference:
    """From a byte stream (a Swift download): only the first ``max_bytes`` are read, then it is closed."""
    return infer_sample(read_sample(chunks, max_bytes), **kwargs)  # type: ignore[arg-type]


def infer_file(
    path: str | os.PathLike[str], *, name: str | None = None, max_bytes: int = SAMPLE_BYTES, **kwargs: object
) -> Inference:
    path = Path(path)
    return infer_sample(
        read_file_sample(str(path), max_bytes),
        name=name,
        filename=path.name,
        **kwargs,  # type: ignore[arg-type]
    )
