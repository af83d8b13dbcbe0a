"""The one error a local cluster raises: it could not start or stop, and says why and what
to do."""


class ClusterError(Exception):
    """The cluster could not start (or stop); the message says why and what to do."""
