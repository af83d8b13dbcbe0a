"""Lifecycle policies against a whole local cluster with its registry: a policy set through
the CLI and the ECR wire, the leader's sweep deleting the images it expires from the real
registry, and the registry's garbage collection freeing their disk (measured)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from shoalctl.local import statefiles
from shoalctl.local.registry import data_bytes
from tests.ecr_model import validate_every_response
from tests.integration.test_ecr import code, ecr_client, key
from tests.integration.test_registry import docker_cli, shoal
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


KEEP_NEWEST_V = {"rules": [{"rulePriority": 1, "description": "keep the newest v*",
                            "selection": {"tagStatus": "tagged", "tagPrefixList": ["v"],
                                          "countType": "imageCountMoreThan", "countNumber": 1},
                            "action": {"type": "expire"}}]}


def test_policy_expires_old_images_and_gc_frees_their_disk(make_cluster, busybox_image, images,
                                                           tmp_path: Path) -> None:
    cluster = make_cluster(agents=0, registry=True, ecs_port=0,
                           extra_controlplane_args=["--registry-lifecycle-interval", "1"])
    config = json.loads(statefiles.config_path(cluster.state_dir).read_text())
    url, ca, registry = config["ecs"], config["ca"], config["registry"]
    ecr = ecr_client(url, ca, key(cluster))
    seen = validate_every_response(ecr)
    name = f"shoaltest/lifecycle-{secrets.token_hex(3)}"
    assert shoal(cluster, "repo", "create", name).returncode == 0
    docker_cfg = tmp_path / "docker"
    assert shoal(cluster, "registry", "login", env={"DOCKER_CONFIG": str(docker_cfg)}).returncode == 0

    # Bad policies change nothing and say which field.
    for bad, field in (({"rules": [{**KEEP_NEWEST_V["rules"][0], "colour": "red"}]}, "rules[0].colour"),
                       ({"rules": [{**KEEP_NEWEST_V["rules"][0],
                                    "selection": {**KEEP_NEWEST_V["rules"][0]["selection"], "countNumber": -2}}]},
                        "rules[0].selection.countNumber")):
        with pytest.raises(ClientError) as err:
            ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(bad))
        assert code(err) == "InvalidParameterException" and field in str(err.value), str(err.value)
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(bad))
        refused = shoal(cluster, "repo", "lifecycle", "set", name, str(path))
        assert refused.returncode != 0 and field in refused.stderr, refused.stderr
    with pytest.raises(ClientError) as err:
        ecr.get_lifecycle_policy(repositoryName=name)
    assert code(err) == "LifecyclePolicyNotFoundException"

    digests = {}
    for tag in ("v1", "v2", "v3", "keep-me"):
        ref = f"{registry}/{name}:{tag}"
        images.make(ref)
        pushed = docker_cli("push", ref, config=docker_cfg)
        assert pushed.returncode == 0, pushed.stderr
        digests[tag] = next(w for w in pushed.stdout.split() if w.startswith("sha256:"))
    listed = lambda: {i["digest"]: i.get("pushedAt") for i in  # noqa: E731
                      json.loads(shoal(cluster, "repo", "images", name, "-o", "json").stdout)["images"]}
    wait_for(lambda: len(listed()) == 4 and all(listed().values()), 30, "four images with push times")

    before = data_bytes(cluster.registry.base)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(KEEP_NEWEST_V))
    done = shoal(cluster, "repo", "lifecycle", "set", name, str(policy))
    assert done.returncode == 0, done.stderr
    assert json.loads(ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]) == KEEP_NEWEST_V
    assert json.loads(shoal(cluster, "repo", "lifecycle", "get", name).stdout) == KEEP_NEWEST_V
    wait_for(lambda: set(listed()) == {digests["v3"], digests["keep-me"]}, 60,
             "v1 and v2 expired, v3 and the tag outside the prefix kept")
    assert data_bytes(cluster.registry.base) >= before - 4096, "deleting manifests alone frees (almost) nothing"

    said = cluster.registry.garbage_collect()
    after = data_bytes(cluster.registry.base)
    print(f"\n{said}")
    # Each image carries a unique ~1 MiB layer; two expired ones go.
    assert before - after > 2 * 1024 * 1024, said
    images.remove(f"{registry}/{name}:v3")
    pulled = docker_cli("pull", f"{registry}/{name}:v3", config=docker_cfg)
    assert pulled.returncode == 0, "the kept image survives the collection: " + pulled.stderr

    put = ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(KEEP_NEWEST_V))
    assert put["repositoryName"] == name
    assert json.loads(ecr.delete_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]) == KEEP_NEWEST_V
    gone = shoal(cluster, "repo", "lifecycle", "delete", name)
    assert gone.returncode != 0 and "no lifecycle policy" in gone.stderr
    assert {"PutLifecyclePolicy", "GetLifecyclePolicy", "DeleteLifecyclePolicy"} <= set(seen)
