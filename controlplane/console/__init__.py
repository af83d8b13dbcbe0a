"""The web console each replica can serve (``--console-listen``): pages over the replica's
cache, kept live by server-sent events, behind sessions made from an access key or a
one-time link (``shoal console``)."""
