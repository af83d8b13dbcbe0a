"""README's CLI section against the CLI's own parser: every command `shoal --help` lists has a
row, and every flag a row names exists on that command (a renamed or removed flag fails here
instead of failing a reader)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

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
