"""`shoal completion bash|zsh`: the script, run in a real bash, offers the commands, a
command's verbs and a verb's flags, from the CLI's own parser."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from shoalctl.cli import completion
from shoalctl.cli.main import build_parser


def complete(script: str, *words: str) -> list[str]:
    """What TAB offers after ``shoal WORDS`` (the last word being the one completed)."""
    quoted = " ".join(f"'{w}'" for w in ("shoal", *words))
    out = subprocess.run(["bash", "--norc", "-c", f'{script}\nCOMP_WORDS=({quoted}); COMP_CWORD={len(words)}; '
                                                  '_shoal; printf "%s\\n" "${COMPREPLY[@]}"'],
                         capture_output=True, text=True, timeout=10, check=True)
    return [w for w in out.stdout.splitlines() if w]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_commands_verbs_and_flags() -> None:
    script = completion.bash(build_parser())
    assert set(complete(script, "ta")) == {"task", "taskdef"}
    assert complete(script, "task", "des") == ["describe"]
    assert set(complete(script, "node", "")) >= {"activate", "describe", "drain", "list"}
    assert "--follow" in complete(script, "logs", "abc123", "--f")
    assert complete(script, "task", "list", "--clu") == ["--cluster"]
    assert complete(script, "--insecure", "eve") == ["events"]
    assert complete(script, "nosuch", "") == []


def test_zsh_runs_the_bash_function_through_bashcompinit() -> None:
    script = completion.zsh(build_parser())
    assert "bashcompinit" in script and "complete -F _shoal shoal" in script
