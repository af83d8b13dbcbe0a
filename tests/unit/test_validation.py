"""shoal.validation: each helper accepts what it should, and refuses the rest with a
ValidationError naming the field."""

from __future__ import annotations

import pickle
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.taskdef.document import parse_task_definition
from shoal.validation import (
    MAX_TASKDEF_BYTES,
    ValidationError,
    check_env_name,
    check_image,
    check_name,
    check_port,
    expect_bool,
    expect_int,
    expect_list,
    expect_object,
    expect_string,
    is_public_tld,
    parse_key_value,
    show,
)


def test_validation_error_names_field_and_message() -> None:
    err = ValidationError("containerDefinitions[0].image", "required")
    assert err.field == "containerDefinitions[0].image"
    assert err.message == "required"
    assert str(err) == "containerDefinitions[0].image: required"
    assert isinstance(err, ValueError)
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.field, copy.message) == (err.field, err.message)


def test_a_task_definition_may_be_64_kib_as_in_ecs_and_not_a_byte_more() -> None:
    doc = b'{"family": "web", "containerDefinitions": [{"name": "app", "image": "x", "memory": 64}]}'
    at_limit = doc + b" " * (65536 - len(doc))  # JSON allows trailing white space
    assert len(at_limit) == MAX_TASKDEF_BYTES
    assert parse_task_definition(at_limit)[0].family == "web"
    with pytest.raises(ValidationError) as err:
        parse_task_definition(at_limit + b" ")
    assert err.value.field == "taskDefinition" and "65537 bytes; the limit is 65536 bytes" in err.value.message


@pytest.mark.parametrize("name", ["web", "a", "my-service_2", "A" * 255, "0"])
def test_check_name_accepts(name: str) -> None:
    assert check_name(name, "serviceName") == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "required"),
        ("my app", "letters, digits, hyphens or underscores"),
        ("a/b", "letters, digits"),
        ("é", "letters, digits"),
        ("A" * 256, "1-255"),
        (None, "got null"),
        (5, "got 5"),
        (["web"], "got a list"),
    ],
)
def test_check_name_refuses(name: object, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_name(name, "serviceName")
    assert info.value.field == "serviceName"
    assert fragment in info.value.message


def test_check_name_max_len() -> None:
    assert check_name("abc", "f", max_len=3) == "abc"
    with pytest.raises(ValidationError, match="1-3 letters"):
        check_name("abcd", "f", max_len=3)


@pytest.mark.parametrize(
    "ref",
    [
        "busybox",
        "shoal/busybox:latest",
        "library/nginx:1.25-alpine",
        "public.ecr.aws/docker/library/httpd:2.4",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api:v1.4.2",
        "localhost:5000/app",
        "localhost/app",
        "registry.example.com:443/a/b/c:tag_1.0",
        "[::1]:5000/app:dev",
        "ghcr.io/owner/repo__x/y-z.w:TAG",
        "nginx@sha256:" + "a" * 64,
        "nginx:1.25@sha256:" + "0123456789abcdef" * 4,
        "MyRegistry/app",  # an upper-case first component is a registry, as docker reads it
        "quay.io/prometheus/node-exporter:v1.8.1",
    ],
)
def test_check_image_accepts(ref: str) -> None:
    assert check_image(ref, "image") == ref


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [
        ("", "required"),
        ("nginx:latest extra", "spaces"),
        ("ngïnx", "non-ASCII"),
        ("shoal/BusyBox", "lower-case"),
        ("nginx:", "tag"),
        ("nginx:-bad", "tag"),
        ("nginx:" + "t" * 129, "tag"),
        ("nginx@sha256:abc", "digest"),
        ("nginx@", "digest"),
        ("a//b", "empty path component"),
        ("a/b/", "empty path component"),
        ("-nginx", "path component"),
        ("nginx-", "path component"),
        ("a..b", "path component"),
        ("bad_host.:5000/x", "registry"),
        ("host:99999999/x", "registry"),
        (":tag", "no repository name"),
        ("a/" + "b" * 260, "repository name is"),
        ("x" * 1000, "at most"),
        (None, "got null"),
        (42, "got 42"),
    ],
)
def test_check_image_refuses(ref: object, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_image(ref, "containerDefinitions[0].image")
    assert info.value.field == "containerDefinitions[0].image"
    assert fragment in info.value.message


@given(st.text(max_size=700))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_check_image_only_raises_validation_error(ref: str) -> None:
    try:
        assert check_image(ref, "image") == ref
    except ValidationError as exc:
        assert exc.field == "image"


def test_check_image_is_fast_on_hostile_input() -> None:
    # Inputs shaped to make a backtracking regex work hard, just under the length cap.
    hostile = ["a" + "-" * 250 + "!", "a." * 200 + "!/x", "a" * 254 + "A", "a" + "._" * 120 + "!"]
    start = time.monotonic()
    for ref in hostile:
        with pytest.raises(ValidationError):
            check_image(ref, "image")
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize("port", [1, 80, 65535, 8080.0])
def test_check_port_accepts(port: object) -> None:
    assert check_port(port, "containerPort") == int(port)  # type: ignore[call-overload]


@pytest.mark.parametrize("port", [0, -1, 65536, True, "80", 80.5, None, float("inf")])
def test_check_port_refuses(port: object) -> None:
    with pytest.raises(ValidationError) as info:
        check_port(port, "portMappings[0].containerPort")
    assert info.value.field == "portMappings[0].containerPort"
    assert "port number from 1 to 65535" in info.value.message


@pytest.mark.parametrize("name", ["PATH", "_x", "a1_B2", "x" * 255])
def test_check_env_name_accepts(name: str) -> None:
    assert check_env_name(name, "environment[0].name") == name


@pytest.mark.parametrize("name", ["", "1ABC", "A-B", "A B", "A=B", "Ä", None, 3])
def test_check_env_name_refuses(name: object) -> None:
    with pytest.raises(ValidationError) as info:
        check_env_name(name, "environment[0].name")
    assert info.value.field == "environment[0].name"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("k=v", ("k", "v")),
        ("ecs.instance-type=t3.large", ("ecs.instance-type", "t3.large")),
        ("K=", ("K", "")),
        ("url=http://x/?a=b", ("url", "http://x/?a=b")),
        ("k= spaced value ", ("k", " spaced value ")),
    ],
)
def test_parse_key_value_accepts(text: str, expected: tuple[str, str]) -> None:
    assert parse_key_value(text, "--env") == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("novalue", "must be key=value"),
        ("=v", "non-empty"),
        (" k=v", "surrounding spaces"),
        ("k=a\nb", "control characters"),
        (None, "must be key=value"),
    ],
)
def test_parse_key_value_refuses(text: object, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_key_value(text, "--env")
    assert info.value.field == "--env"
    assert fragment in info.value.message


def test_expect_helpers_name_type_and_value() -> None:
    with pytest.raises(ValidationError, match=r"^x: must be an object, got a list$"):
        expect_object([], "x")
    with pytest.raises(ValidationError, match=r"^x: must be a list, got an object$"):
        expect_list({}, "x")
    with pytest.raises(ValidationError, match="at most 2 entries"):
        expect_list([1, 2, 3], "x", max_items=2)
    with pytest.raises(ValidationError, match=r"must be a string, got 5"):
        expect_string(5, "x")
    with pytest.raises(ValidationError, match="must not be empty"):
        expect_string("", "x", allow_empty=False)
    with pytest.raises(ValidationError, match="NUL"):
        expect_string("a\x00b", "x")
    with pytest.raises(ValidationError, match="unpaired surrogate"):
        expect_string("\ud800", "x")
    with pytest.raises(ValidationError, match="must be true or false, got the string 'true'"):
        expect_bool("true", "x")
    with pytest.raises(ValidationError, match="got true"):
        expect_int(True, "x", 0, 10)
    assert expect_int(3.0, "x", 0, 10) == 3


def test_show_truncates_hostile_values() -> None:
    shown = show("x" * 10_000)
    assert len(shown) < 120 and "10000 characters" in shown
    assert show(10**100).endswith("...")
    assert show(None) == "null"


def test_public_top_level_domains_are_iana_s_list() -> None:
    assert all(is_public_tld(name) for name in ("com", "ORG", "io.", "dev", "xn--p1ai"))
    assert not any(is_public_tld(name) for name in ("lab", "local", "internal", "example.com", ""))
