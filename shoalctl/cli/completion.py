"""`shoal completion bash|zsh`: a shell completion script for the commands, verbs and flags,
written from the CLI's own argument parser (so it cannot fall behind it) and static: a TAB
runs no Python. Install: `shoal completion bash > /etc/bash_completion.d/shoal`, or
`source <(shoal completion zsh)` in ~/.zshrc."""

from __future__ import annotations

import argparse


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps its tree here; there is no public accessor
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(o for action in parser._actions for o in action.option_strings if o.startswith("--"))


def bash(root: argparse.ArgumentParser) -> str:
    """The bash script: ``_shoal`` finds the command and verb typed so far and offers what may
    follow them."""
    cases = []
    nouns = _subparsers(root)
    for noun, parser in sorted(nouns.items()):
        verbs = _subparsers(parser)
        for verb, vparser in sorted(verbs.items()):
            cases.append(f'    "{noun}/{verb}") words="{" ".join(_flags(vparser))}";;')
        if verbs:
            cases.append(f'    "{noun}/") words="{" ".join(sorted(verbs))}";;')
        else:
            cases.append(f'    "{noun}/"*) words="{" ".join(_flags(parser))}";;')
    return "\n".join([
        "# shoal completion for bash (written by `shoal completion bash`)",
        "_shoal() {",
        '  local cur="${COMP_WORDS[COMP_CWORD]}" noun="" verb="" words="" i w',
        "  for ((i = 1; i < COMP_CWORD; i++)); do",
        '    w="${COMP_WORDS[i]}"',
        '    [[ "$w" == -* ]] && continue',
        '    if [[ -z "$noun" ]]; then noun="$w"; else verb="$w"; break; fi',
        "  done",
        '  case "$noun/$verb" in',
        f'    "/") words="{" ".join([*sorted(nouns), *_flags(root)])}";;',
        *cases,
        "  esac",
        '  COMPREPLY=($(compgen -W "$words" -- "$cur"))',
        "}",
        "complete -F _shoal shoal",
        "",
    ])


def zsh(root: argparse.ArgumentParser) -> str:
    """zsh runs the bash script through its bash completion layer."""
    return "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n" + bash(root)


def register(sub, root: argparse.ArgumentParser) -> None:
    p = sub.add_parser("completion", help="print a shell completion script (bash or zsh)")
    p.add_argument("shell", choices=("bash", "zsh"))
    p.set_defaults(func=lambda a: print(bash(root) if a.shell == "bash" else zsh(root), end=""))
