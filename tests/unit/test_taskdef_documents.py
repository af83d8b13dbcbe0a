"""shoal.taskdef on whole documents: size limits, malformed and hostile text, references,
and fuzzing that only a ValidationError naming the field ever escapes."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.taskdef.document import parse_task_definition, parse_task_definition_ref
from shoal.taskdef.fields import CONTAINER_FIELDS, CONTAINER_UNSUPPORTED, TASK_FIELDS
from shoal.validation import MAX_TASKDEF_BYTES, ValidationError
from tests.fixtures.taskdef_docs import ALLOW_ALL, SAMPLES, base, c0, refused, with_

# --- the document itself ------------------------------------------------------------------------


def test_two_megabyte_document_refused_fast() -> None:
    doc = base()
    doc["containerDefinitions"][0]["command"] = ["x" * (2 * 1024 * 1024)]
    text = json.dumps(doc)
    for payload in (text, text.encode()):
        start = time.monotonic()
        with pytest.raises(ValidationError) as info:
            parse_task_definition(payload)
        assert time.monotonic() - start < 0.5
        assert info.value.field == "taskDefinition"
        assert str(MAX_TASKDEF_BYTES) in info.value.message


def test_multibyte_document_over_limit_by_bytes() -> None:
    doc = base()
    doc["containerDefinitions"][0]["command"] = ["é" * 40_000]  # 40k characters, 80k bytes
    err = refused(doc)
    assert err.field == "taskDefinition" and "bytes" in err.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"family": "web",\n  "containerDefinitions": [}', "line 2 column"),
        ("not json", "line 1 column 1"),
        ("", "empty"),
        ("   ", "empty"),
        ('{"family": NaN}', "NaN is not a JSON number"),
        ('{"family": "a", "family": "b"}', "duplicate key 'family'"),
        ("[" * 30_000, "nested too deeply"),
        ('{"cpu": ' + "9" * 5000 + "}", "not valid JSON"),
        ("[]", "must be a JSON object, got a list"),
        ('"family"', "must be a JSON object, got the string"),
        ("null", "must be a JSON object, got null"),
    ],
)
def test_bad_documents(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_task_definition(text)
    assert info.value.field == "taskDefinition"
    assert fragment in info.value.message


def test_non_utf8_bytes_and_non_text() -> None:
    with pytest.raises(ValidationError, match="not UTF-8"):
        parse_task_definition(b'{"family": "\xff"}')
    with pytest.raises(ValidationError, match="must be JSON text"):
        parse_task_definition(None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="invalid Unicode"):
        parse_task_definition('{"family": "\ud800"}')


def test_surrogate_escape_in_value_names_field() -> None:
    doc = with_(lambda d: c0(d).update(command=["\ud800"]))
    text = json.dumps(doc)  # ensure_ascii: the document itself is valid, its decoded value is not
    with pytest.raises(ValidationError) as info:
        parse_task_definition(text)
    assert info.value.field == "containerDefinitions[0].command[0]"


# --- references -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("web", ("web", None)),
        ("web:3", ("web", 3)),
        ("arn:aws:ecs:us-east-1:123456789012:task-definition/web:3", ("web", 3)),
        ("arn:aws:ecs:local:000000000000:task-definition/my_app-2:17", ("my_app-2", 17)),
        ("arn:aws-cn:ecs:cn-north-1:123456789012:task-definition/web", ("web", None)),
    ],
)
def test_ref_accepts(ref: str, expected: tuple[str, int | None]) -> None:
    assert parse_task_definition_ref(ref) == expected


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "web:",
        "web:0",
        "web:-1",
        "web:x",
        "web:3:4",
        "my app",
        "arn:aws:ecs:us-east-1:1:service/web",
        "arn:aws:s3:::bucket",
        "web:99999999999",
        "x" * 2000,
        None,
        3,
    ],
)
def test_ref_refuses(ref: Any) -> None:
    with pytest.raises(ValidationError) as info:
        parse_task_definition_ref(ref)
    assert info.value.field == "taskDefinition"


# --- only ValidationError ever escapes ------------------------------------------------------------

JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "",
            "0",
            "512",
            "1 vCPU",
            "2 GB",
            "CMD",
            "NONE",
            "tcp",
            "host",
            "awsvpc",
            "app",
            "/x",
            "START",
            "HEALTHY",
            "nofile",
            "ALL",
            "memberOf",
            "shoal/busybox",
        ]
    )
)
KEYS = st.sampled_from(sorted(TASK_FIELDS | CONTAINER_FIELDS | CONTAINER_UNSUPPORTED)) | st.text(max_size=8)
JSON_VALUE = st.recursive(
    JSON_LEAF,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=25,
)
FUZZ = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


SAMPLE_DOCS = [json.loads(p.read_text()) for p in sorted(SAMPLES.glob("*.json"))] + [base()]
SAMPLE_PATHS = [(i, path) for i, doc in enumerate(SAMPLE_DOCS) for path in _paths(doc) if path]


def _only_validation_errors(text: Any) -> None:
    try:
        td, warnings = parse_task_definition(text, ALLOW_ALL)
    except ValidationError as exc:
        assert exc.field and str(exc) == f"{exc.field}: {exc.message}"
        return
    td.SerializeToString()
    assert all(isinstance(w, str) for w in warnings)


@given(st.sampled_from(SAMPLE_PATHS), JSON_VALUE, st.booleans())
@FUZZ
def test_fuzz_one_field_of_a_realistic_document(where: tuple[int, tuple], value: Any, drop: bool) -> None:
    index, path = where
    doc = copy.deepcopy(SAMPLE_DOCS[index])
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if drop and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    _only_validation_errors(json.dumps(doc))


@given(
    st.dictionaries(st.sampled_from(sorted(CONTAINER_FIELDS)) | KEYS, JSON_VALUE, max_size=8),
    st.dictionaries(st.sampled_from(sorted(TASK_FIELDS)), JSON_VALUE, max_size=5),
)
@FUZZ
def test_fuzz_container_of_random_fields(container: dict[str, Any], task: dict[str, Any]) -> None:
    # Start from a valid container so random fields reach the checks past name and image.
    doc = {"family": "web", **task, "containerDefinitions": [{"name": "app", "image": "x", "memory": 64, **container}]}
    _only_validation_errors(json.dumps(doc))


@given(JSON_VALUE)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_random_json(value: Any) -> None:
    _only_validation_errors(json.dumps(value))


@given(st.text(max_size=200) | st.binary(max_size=200))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_random_text_and_bytes(text: str | bytes) -> None:
    _only_validation_errors(text)


@given(st.text(max_size=80))
@settings(max_examples=200, deadline=None)
def test_fuzz_refs(text: str) -> None:
    try:
        family, revision = parse_task_definition_ref(text)
    except ValidationError as exc:
        assert exc.field == "taskDefinition"
        return
    assert family and (revision is None or revision >= 1)
