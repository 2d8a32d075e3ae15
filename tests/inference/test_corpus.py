"""The measure of inference: on a seeded corpus of files whose types are known, field-level accuracy, and
every clean file loads through the project's parser with zero quarantined rows. Also the real campus
samples (their bytes are copied here: a clone has no ../shared)."""

from __future__ import annotations

import json

import pytest

from airflow_provider_datalake.descriptors.loader import parse_descriptor
from airflow_provider_datalake.inference import infer_sample, to_yaml
from airflow_provider_datalake.inference.corpus import corpus
from airflow_provider_datalake.inference.sniff import Sample
from airflow_provider_datalake.parsing import parse

GOAL = 0.95

# /work/shared/data/neocampus/*.json, as published (real campus shapes).
MQTT_SAMPLE = (
    b'[{"topic":"u4/301/energy","value": [1230563.0, 1230560.0, 236.49, 0.0, 0.0, 0.0, 0.0, 0.0], '
    b'"value_units": ["Wh", "Ea+", "V", "A", "W", "VAR", "VA", "cosPhi"], "input": 78, "subID": "lighting", '
    b'"unitID": "modbus_rs485", "time": "2021-07-22T11:01:22.000Z"}\n'
    b',{"topic":"u4/302/humidity","value": 35, "value_units": "%r.H.", "input": 104, "subID": "ilot1", '
    b'"unitID": "inside", "time": "2021-07-22T11:11:22.000Z"}\n'
    b',{"topic":"u4/301/luminosity","value": 667, "value_units": "lux", "input": 100, "subID": "ilot1", '
    b'"unitID": "inside", "time": "2021-07-22T11:14:22.000Z"}\n'
    b',{"topic":"u4/300/energy","value": [0.0, 0.0, 33860.33, 26.88, 26.23, 0.66], "value_units": ["m3/hr", '
    b'"kW", "kWh", "hot_degresC", "cold_degresC", "diff_degresC"], "input": 1, "subID": "heaters", '
    b'"unitID": "modbus_rs485", "time": "2021-07-22T11:15:24.000Z"}]\n'
)
SENSOR_READING = (
    b'{\n  "_id": "ObjectId(\\"5d004092adf80168fe79b55c\\")",\n  "idcapteur": 4,\n  "idpiece": 1,\n'
    b'  "value": 15,\n  "datemesure": "2019-06-12T00:00:18.388374",\n  "mesurevaleur": "celsius"\n}\n'
)
REAL = {
    "mqtt_sample.json": (
        MQTT_SAMPLE,
        16,
        {"building": "string", "value": "float", "unit": "string", "time": "timestamp"},
    ),
    "sensor_reading.json": (
        SENSOR_READING,
        1,
        {
            "id": "string",
            "idcapteur": "int",
            "value": "int",
            "datemesure": "timestamp",
            "mesurevaleur": "string",
        },
    ),
}


def _load(descriptor, data: bytes) -> tuple[int, list]:
    good, bad = 0, []
    for batch in parse(descriptor, [data[i : i + 65536] for i in range(0, len(data), 65536)]):
        good += len(batch.rows)
        bad += batch.bad
    return good, bad


@pytest.mark.parametrize("seed", [0, 1])
def test_field_accuracy_and_clean_loads_on_the_corpus(seed: int) -> None:
    right = total = 0
    report = []
    for item in corpus(seed=seed, rows=300):
        result = infer_sample(Sample(item.data, True), filename=item.name)
        desc = result.descriptor
        assert parse_descriptor(to_yaml(desc)) == desc, item.name  # complete, valid, round-trips
        got = {f.name: f.type.value for f in desc.fields}
        wrong = {k: (v, got.get(k)) for k, v in item.expected.items() if got.get(k) != v}
        right += len(item.expected) - len(wrong)
        total += len(item.expected)
        good, bad = _load(desc, item.data)
        report.append(f"{item.name}: {len(item.expected) - len(wrong)}/{len(item.expected)} {wrong or ''}")
        assert (good, bad[:3]) == (item.rows, []), item.name
    accuracy = right / total
    print(f"\ninference field-level accuracy (seed {seed}): {right}/{total} = {accuracy:.1%}")
    print("\n".join(report))
    assert accuracy >= GOAL, report


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_campus_samples(name: str) -> None:
    data, rows, expected = REAL[name]
    desc = infer_sample(Sample(data, True), filename=name).descriptor
    got = {f.name: f.type.value for f in desc.fields}
    assert {k: got.get(k) for k in expected} == expected
    assert _load(desc, data) == (rows, [])


def test_the_sample_is_bounded_and_a_big_file_still_loads_cleanly() -> None:
    item = next(i for i in corpus(seed=2, rows=20_000) if i.name == "quotes_en_bom.csv")
    assert len(item.data) > 600_000
    result = infer_sample(Sample(item.data[:65536], False), filename=item.name)
    assert result.descriptor.evidence.sample_bytes == 65536 and not result.descriptor.evidence.complete
    assert _load(result.descriptor, item.data) == (20_000, [])


def test_corpus_is_seeded() -> None:
    a, b = corpus(seed=5, rows=20), corpus(seed=5, rows=20)
    assert [x.data for x in a] == [x.data for x in b]
    assert [x.data for x in a] != [x.data for x in corpus(seed=6, rows=20)]
    json.loads(next(x for x in a if x.name == "readings.json").data)
