"""The node's DNS responder for service discovery: the names of a routing table (`zone`),
the answers to a query (`answer`), forwarding the rest upstream (`upstream`), the sockets
(`server`) and the routing consumer that ties them together (`responder`)."""
