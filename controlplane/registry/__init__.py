"""The cluster registry's side of the control plane: the token endpoint the registry sends
clients to (``token_server``), who may do what there (``access``), and a client of the
registry's own API for listing and deleting images (``client``)."""
