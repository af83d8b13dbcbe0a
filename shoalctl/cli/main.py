"""`shoal`: noun-verb commands. Each noun lives in its own module with a ``register``
function that adds its subcommands; this module only wires them and turns errors into a
message on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import sys

from shoal.validation import ValidationError
from shoalctl.cli import client, errors


def build_parser() -> argparse.ArgumentParser:
    from shoalctl.cli import (
        accesskeys,
        app,
        chaos,
        completion,
        console,
        daemons,
        events,
        execute,
        filesystems,
        lab,
        local,
        logs,
        resources,
        roles,
        scaling,
        security,
        top,
        traffic,
    )
    from shoalctl.cli import registry as registry_cli

    parser = argparse.ArgumentParser(prog="shoal", description="Shoal: a mini ECS for machines you own.")
    parser.add_argument("--insecure", action="store_true",
                        help="without a CA, talk plaintext to a control plane started with --insecure "
                             "(refused otherwise)")
    sub = parser.add_subparsers(dest="noun", metavar="COMMAND")
    sub.required = True
    for module in (local, resources, traffic, daemons, accesskeys, roles, filesystems, scaling, security,
                   registry_cli, logs, execute, events, console, top, lab, chaos, app):
        module.register(sub)
    completion.register(sub, parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from shoalctl.cli import daemons

    if argv and argv[0] in daemons.DAEMONS:
        return int(daemons.entry(argv[0])(argv[1:]) or 0)
    parser = build_parser()
    args = parser.parse_args(argv)
    client.allow_plaintext(args.insecure)
    try:
        return int(args.func(args) or 0)
    except errors.CliError as exc:
        print(f"shoal: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValidationError as exc:  # bad input to a flag, named in the message
        print(f"shoal: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
