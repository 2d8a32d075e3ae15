"""Tables or opaque content, the confidence, and shapes: pure functions on samples."""

from __future__ import annotations

import base64
import random

import pytest

from airflow_provider_datalake.inference import infer_sample
from airflow_provider_datalake.inference.corpus import corpus, json_lines, mqtt_lines
from airflow_provider_datalake.inference.sniff import Sample
from airflow_provider_datalake.inference.structure import Thresholds, shape_key, shape_summary

WORDS = [
    "the",
    "lab",
    "measured",
    "a",
    "warm",
    "room",
    "while",
    "students,",
    "teachers",
    "and",
    "staff",
    "walked",
    "by;",
    "nobody",
    "noticed",
]


def _infer(data: bytes, name: str = "x"):
    return infer_sample(Sample(data, True), name=name, stores=["postgres"])


def _base64_lines(rng: random.Random, lines: int = 40) -> bytes:
    return b"".join(base64.b64encode(rng.randbytes(rng.randint(30, 1500))) + b"\n" for _ in range(lines))


def _prose(rng: random.Random) -> bytes:
    sentences = (" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 25))) for _ in range(60))
    return "\n".join(s + rng.choice([".", ",", ", and"]) for s in sentences).encode()


def _log(rng: random.Random) -> bytes:
    return "\n".join(
        f"2024-03-0{rng.randint(1, 9)} 12:{rng.randint(10, 59)}:00 worker {rng.randint(1, 9)} started job"
        for _ in range(80)
    ).encode()


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (_base64_lines, "line of data, not a column name"),
        (_prose, "no consistent record structure"),
        (_log, "one text value per line"),
        (lambda rng: base64.b64encode(rng.randbytes(1500)), "no records"),
    ],
    ids=["base64", "prose", "log", "one-line"],
)
def test_text_that_is_no_table_is_opaque_with_its_reason(make, why: str) -> None:
    inference = _infer(make(random.Random(3)))
    assessment = inference.assessment
    assert assessment.opaque and why in assessment.reason
    assert assessment.confidence == 0.0
    assert assessment.draft_refusal(Thresholds()) == assessment.reason
    assert any(n.startswith("not a table") for n in inference.descriptor.evidence.notes)


def test_every_corpus_file_is_a_confident_table() -> None:
    for item in corpus(seed=0, rows=120):
        assessment = _infer(item.data).assessment
        assert not assessment.opaque, item.name
        assert assessment.confidence >= 0.9, (item.name, assessment)
        assert assessment.draft_refusal(Thresholds()) is None


def test_a_draft_needs_records_and_confidence() -> None:
    small = _infer(b"value,unit\n1,C\n2,C\n")
    assert not small.assessment.opaque
    assert "2 record(s)" in (small.assessment.draft_refusal(Thresholds()) or "")
    assert small.assessment.draft_refusal(Thresholds(min_records=2)) is None
    assert "below the floor" in (
        small.assessment.draft_refusal(Thresholds(min_records=1, min_confidence=1.0)) or ""
    )
    assert _infer(b"value\n1\n2\n3\n4\n5\n6\n").assessment.opaque is False  # one typed column is a table
    with pytest.raises(ValueError, match="min_confidence"):
        Thresholds(min_confidence=1.5)
    with pytest.raises(ValueError, match="min_records"):
        Thresholds(min_records=0)


def test_one_shape_one_key_whatever_the_file() -> None:
    a = _infer(json_lines(random.Random(1), 80).data, name="zq81").descriptor
    b = _infer(json_lines(random.Random(2), 40).data, name="kk_export").descriptor
    assert a.name != b.name and shape_key(a) == shape_key(b)
    mqtt = _infer(mqtt_lines(random.Random(1), 80).data).descriptor
    assert shape_key(mqtt) != shape_key(a)
    csv_a = _infer(b"time,room,temp\n" + b"2020-01-01T00:00:00Z,a,1.5\n" * 6).descriptor
    csv_b = _infer(b"time;room;temp\n" + b"2020-01-01T00:00:00Z;a;1,5\n" * 6).descriptor
    assert shape_key(csv_a) != shape_key(csv_b)  # another dialect is another shape
    summary = shape_summary(csv_a)
    assert summary.startswith("csv (") and "3 field(s): time timestamp, room string, temp float" in summary
