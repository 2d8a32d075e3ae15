"""Row numbers are the lineage key: they must not depend on batch size, chunking or run."""

from __future__ import annotations

import re

import pytest

from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.samples import write_lab_csv, write_mqtt_dump, write_mqtt_jsonl
from tests.parsing.helpers import lab_descriptor, mqtt_descriptor, run, sample


def _broken_dump() -> bytes:
    """A dump with a bad value and a mismatched message in the middle, and a truncated end."""
    data = sample(write_mqtt_dump, 120, seed=11)
    data = re.sub(rb'"value": \d+,', b'"value": "oops",', data, count=1)
    first_list = data.index(b'"value": [') + len(b'"value": [')
    data = data[:first_list] + b"9.9, " + data[first_list:]
    return data[: int(len(data) * 0.9)]


CASES = {
    "mqtt": (mqtt_descriptor, _broken_dump),
    "mqtt_lines": (lambda: mqtt_descriptor(lines=True), lambda: sample(write_mqtt_jsonl, 150, seed=3)),
    "csv": (
        lambda: lab_descriptor("en"),
        lambda: sample(write_lab_csv, 150, seed=3, locale="en").replace(b",C. Martin", b",C. Martin,x"),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_batch_size_and_chunking_do_not_change_numbers_or_rows(case: str) -> None:
    make_descriptor, make_data = CASES[case]
    desc: Descriptor = make_descriptor()
    data = make_data()
    reference = run(desc, data, batch_size=10_000)
    assert reference.bad or case == "mqtt_lines"
    for batch_size, chunk in ((1, 0), (1, 17), (7, 1), (10_000, 4096)):
        again = run(desc, data, batch_size=batch_size, chunk=chunk)
        assert again.numbers == reference.numbers
        assert again.rows == reference.rows
        assert again.bad == reference.bad
    assert len(run(desc, data, batch_size=1).batches) == len(reference.rows) + len(reference.bad)


def test_a_bad_record_consumes_its_number() -> None:
    parsed = run(mqtt_descriptor(), _broken_dump())
    everything = sorted(parsed.numbers + [b.row_number for b in parsed.bad])
    assert everything == list(range(1, len(everything) + 1))
    assert {b.field for b in parsed.bad} == {None, "value"}
    assert parsed.bad[-1].error.startswith("truncated JSON at byte")
