"""The front's decision on a manifest pushed under a tag of a repository with immutable tags."""

from __future__ import annotations

from controlplane.registry.front import refusal


def test_a_tag_that_names_another_manifest_is_refused() -> None:
    why = refusal("team/app", "v1", "sha256:aaa", "sha256:bbb")
    assert why is not None and "ImageTagAlreadyExistsException" in why and "'v1'" in why and "sha256:aaa" in why


def test_a_new_tag_or_the_same_manifest_again_goes_through() -> None:
    assert refusal("team/app", "v1", "", "sha256:bbb") is None
    assert refusal("team/app", "v1", "sha256:bbb", "sha256:bbb") is None
