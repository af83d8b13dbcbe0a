"""What a replica knows of its cluster registry once started (``ApiContext.registry``): its
address, the tokens' audience, the issuer that signs them and a client of its API."""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.registry.client import RegistryClient
from shoal.security.registry_issuer import Issuer


@dataclass
class RegistrySettings:
    address: str
    service: str
    issuer: Issuer
    client: RegistryClient
