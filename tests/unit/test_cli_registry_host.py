"""`shoal registry host-setup`: bad flags are refused naming the flag, before anything is
written or etcd is dialled. (The files it writes, and a registry serving from them under its
systemd unit's ExecStart: tests/integration/test_vagrant_lab.py.)"""

from __future__ import annotations

import pytest

from shoalctl.cli.errors import CliError
from shoalctl.cli.main import build_parser


def _args(tmp_path, **over: str) -> list[str]:
    for name in ("ca.crt", "client.crt", "client.key"):
        (tmp_path / name).write_text("x")
    (tmp_path / "pki").mkdir(exist_ok=True)
    flags = {"--address": "192.0.2.10:5000", "--token-url": "https://192.0.2.10:5001/token",
             "--etcd": "https://127.0.0.1:1", "--etcd-ca": str(tmp_path / "ca.crt"),
             "--etcd-cert": str(tmp_path / "client.crt"), "--etcd-key": str(tmp_path / "client.key"),
             "--pki-dir": str(tmp_path / "pki"), **over}
    return ["registry", "host-setup", str(tmp_path / "reg"), *[x for kv in flags.items() for x in kv]]


@pytest.mark.parametrize(("flag", "value", "words"), [
    ("--address", "registry", "--address: 'registry' is not HOST:PORT"),
    ("--token-url", "http://192.0.2.10:5001/token", "--token-url: expected https://"),
    ("--upstream-port", "70000", "--upstream-port: expected 0-65535"),
    ("--etcd-key", "/nonexistent/client.key", "--etcd-key: no file /nonexistent/client.key"),
    ("--pki-dir", "/nonexistent/pki", "--pki-dir: no directory /nonexistent/pki"),
])
def test_bad_flags_are_refused_by_name(tmp_path, flag: str, value: str, words: str) -> None:
    args = build_parser().parse_args(_args(tmp_path, **{flag: value}))
    with pytest.raises(CliError, match=words.replace("(", r"\(")) as err:
        args.func(args)
    assert words in str(err.value)
    assert not (tmp_path / "reg").exists(), "wrote files despite a bad flag"
