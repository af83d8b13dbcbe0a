"""README's CLI section against the CLI's own parser: every command `shoal --help` lists has a
row, and every flag a row names exists on that command (a renamed or removed flag fails here
instead of failing a reader)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from agent.main import parser as agent_parser
from autoscaler.main import parser as autoscaler_parser
from controlplane.server import build_parser as controlplane_parser
from shoal.security.ca import GRANTS
from shoalctl.cli.completion import _flags, _subparsers
from shoalctl.cli.main import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"


def _section(title: str) -> str:
    return README.read_text().split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _commands() -> list[str]:
    """Each `shoal …` command in the first cell of the CLI table's rows."""
    rows = [line for line in _section("CLI").splitlines() if line.startswith("| `shoal")]
    return [seg for row in rows for seg in re.findall(r"`(shoal [^`]*)`", row.split(" | ")[0])]


def _noun(command: str) -> str:
    words = [w for w in command.split() if w != "--insecure"]
    return words[1]


def _all_flags(parser: argparse.ArgumentParser) -> set[str]:
    flags = set(_flags(parser))
    for verb in _subparsers(parser).values():
        flags |= _all_flags(verb)
    return flags


def test_every_command_has_a_row_in_the_cli_section():
    nouns = set(_subparsers(build_parser()))
    documented = {_noun(c) for c in _commands()}
    assert nouns - documented == set()
    assert documented - nouns == set()


def test_every_flag_a_row_names_exists_on_its_command():
    root = build_parser()
    nouns = _subparsers(root)
    unknown = []
    for command in _commands():
        noun = _noun(command)
        known = _all_flags(nouns[noun]) | set(_flags(root))
        # `--allow-…` and `--placement-…` stand for a family of flags, checked by their rows' links
        named = re.findall(r"--[a-z][a-z-]*[a-z](?![a-z-]*…)", command)
        unknown += [f"{noun} {flag}" for flag in named if flag not in known]
    assert unknown == []


def _daemon_parsers() -> dict[str, argparse.ArgumentParser]:
    return {"Control plane": controlplane_parser(), "Agent": agent_parser(), "Autoscaler": autoscaler_parser()}


def _daemon_paragraphs() -> dict[str, str]:
    """Configuration's three parts, each from its `NAME (`shoal … --help`)` line to the next."""
    text = _section("Configuration")
    parts = re.split(r"^(Control plane|Agent|Autoscaler) \(`shoal [a-z]+ --help`\)", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_configuration_names_every_daemon_flag_and_no_other():
    paragraphs = _daemon_paragraphs()
    problems = []
    for name, parser in _daemon_parsers().items():
        flags = set(_flags(parser)) - {"--help"}
        named = set(re.findall(r"--[a-z][a-z-]*[a-z](?![a-z-]*…)", paragraphs[name]))
        problems += [f"{name}: {f} is not a flag" for f in sorted(named - flags)]
        # the agent's `--allow-…` flags are "the same as the control plane's", named there
        missing = {f for f in flags - named if not (name == "Agent" and f.startswith("--allow-"))}
        problems += [f"{name}: {f} is not documented" for f in sorted(missing)]
    assert problems == []


def test_user_create_help_names_every_grant():
    # its help once offered logs and secrets only, while exec is a grant too
    users = _subparsers(_subparsers(build_parser())["user"])["create"]
    grant = next(a for a in users._actions if "--grant" in a.option_strings)
    assert [g for g in GRANTS if g not in grant.help] == []


def test_every_list_and_describe_takes_output_json():
    # README: "Every `list` and `describe` takes `-o json`"
    def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...]):
        verbs = _subparsers(parser)
        if not verbs:
            yield path, parser
        for name, verb in verbs.items():
            yield from leaves(verb, (*path, name))

    named = {("status",), ("app", "status"), ("tg", "health"), ("repo", "images")}
    without = [" ".join(path) for path, parser in leaves(build_parser(), ())
               if (path[-1] in ("list", "describe") or path in named) and "--output" not in _flags(parser)]
    assert without == []
