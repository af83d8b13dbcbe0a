"""The Events gRPC service (the cluster-wide feed, controlplane/feed.py: list and follow)
and the Console service (one-time login links to this replica's web console)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc

from controlplane.authz import current_identity
from controlplane.errors import ApiError, grpc_errors, invalid
from controlplane.feed import EventFeed, check_request, matches
from shoal.security.ca import Identity
from shoal.v1 import events_pb2 as ev
from shoal.v1 import events_pb2_grpc

# A follower with nothing new hears nothing; the wait is cut so a gone caller is noticed.
FOLLOW_TICK = 1.0


def _checked(req: ev.ListEventsRequest) -> None:
    problem = check_request(req)
    if problem:
        raise invalid(problem)


class EventsService(events_pb2_grpc.EventsServicer):
    def __init__(self, feed: EventFeed) -> None:
        self.feed = feed

    @grpc_errors
    def ListEvents(self, request: ev.ListEventsRequest, context) -> ev.ListEventsResponse:  # noqa: N802
        _checked(request)
        return self.feed.list(request)

    def WatchEvents(self, request: ev.ListEventsRequest, context) -> Iterator[ev.ClusterEvent]:  # noqa: N802
        problem = check_request(request)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        first = self.feed.list(request)
        yield from first.events
        after = first.last_seq
        live = ev.ListEventsRequest()
        live.CopyFrom(request)
        live.limit = 0
        while context.is_active():
            if not self.feed.wait_for_event(after, FOLLOW_TICK):
                continue
            live.after_seq = after
            batch = self.feed.list(live)
            after = batch.last_seq
            yield from (e for e in batch.events if matches(e, live))


class ConsoleService(events_pb2_grpc.ConsoleServicer):
    """``issue`` makes a link for an identity (None on an --insecure control plane), or
    returns None when this replica serves no console."""

    def __init__(self, issue: Callable[[Identity | None], ev.ConsoleLink | None]) -> None:
        self.issue = issue

    @grpc_errors
    def CreateConsoleLink(self, request: ev.CreateConsoleLinkRequest, context) -> ev.ConsoleLink:  # noqa: N802
        link = self.issue(current_identity())
        if link is None:
            raise ApiError(grpc.StatusCode.FAILED_PRECONDITION,
                           "this control plane serves no console: start it with --console-listen HOST:PORT",
                           "ClientException")
        return link
