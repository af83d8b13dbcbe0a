"""boto3 clients of a test cluster's ECS-compatible gateway, signed with an access key made
for the test: how the wire-API tests reach the gateway as an AWS SDK user does; and the
AWS error a call is refused with."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import grpc
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from shoal.v1 import accesskeys_pb2 as ak
from shoal.v1 import accesskeys_pb2_grpc
from shoalctl.local import statefiles

# The SDKs' standard retries: a refused replay (Throttling) is signed anew and sent again.
RETRYING = Config(retries={"max_attempts": 6, "mode": "standard"})


def access_key(channel: grpc.Channel, description: str = "") -> ak.AccessKey:
    return accesskeys_pb2_grpc.AccessKeysStub(channel).CreateAccessKey(
        ak.CreateAccessKeyRequest(description=description), timeout=10)


def client(service: str, config: Mapping[str, Any], key: ak.AccessKey, botocore_config: Config | None = None):
    """``service``'s client at the gateway ``config`` (a cluster's config.json) names, trusting its CA."""
    return boto3.client(service, endpoint_url=config["ecs"], region_name="us-east-1", verify=config["ca"],
                        aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key,
                        config=botocore_config)


def cluster_client(cluster, service: str, description: str):
    """``service``'s client of a local cluster (tests/fixtures/cluster.py), with a new key and
    the standard retries."""
    config = json.loads(statefiles.config_path(cluster.state_dir).read_text())
    return client(service, config, access_key(cluster.channel, description), RETRYING)


def refused(call: Callable[..., object], code: str = "InvalidParameterException", **kw: Any) -> str:
    """The message of the AWS error ``call(**kw)`` is refused with; fails unless its code is ``code``."""
    with pytest.raises(ClientError) as caught:
        call(**kw)
    err = caught.value.response["Error"]
    assert err["Code"] == code, err
    return err["Message"]
