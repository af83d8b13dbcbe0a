"""`shoal console [--print-url]`: a one-time link that logs into the web console as the
caller (admin or viewer, as the caller's certificate says), opened in a browser or printed.
The link names the console of the replica that made it and is good once, for a few minutes,
at any replica (sessions and links are kept in etcd)."""

from __future__ import annotations

import webbrowser

from shoal.v1 import events_pb2 as ev
from shoal.v1 import events_pb2_grpc
from shoalctl.cli.client import add_target_flags, connect


def open_console(a) -> int:
    link = connect(a, events_pb2_grpc.ConsoleStub).CreateConsoleLink(ev.CreateConsoleLinkRequest())
    if a.print_url or not webbrowser.open(link.url):
        print(link.url)
    else:
        print(f"opened the console in a browser (the link works once); console at {link.url.split('/login')[0]}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("console", help="open the web console, logged in as you (a one-time link)")
    p.add_argument("--print-url", action="store_true", help="print the one-time link instead of opening it")
    add_target_flags(p)
    p.set_defaults(func=open_console)
