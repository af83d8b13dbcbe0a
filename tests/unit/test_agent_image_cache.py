"""The node image cache against a fake engine: only images the agent pulled go, never one a
task uses or used recently, not before the minimum age, at most the cap per sweep, least
recently used first; an engine refusal leaves the image for the next sweep."""

from __future__ import annotations

from agent.agent import Agent, AgentConfig
from agent.hollow import HollowRuntime
from agent.image_cache import CacheSettings, ImageCache
from agent.runtime import ContainerRuntimeError, NotFound
from shoal.v1 import agent_pb2
from shoal.v1 import resources_pb2 as r
from tests.fakegateway import assignment


class FakeEngine:
    def __init__(self, images: set[str]) -> None:
        self.images = set(images)
        self.held: set[str] = set()  # a stopped container still uses these

    def remove_image(self, image: str) -> None:
        if image in self.held:
            raise ContainerRuntimeError(f"remove image {image}: conflict: image is being used by a container")
        if image not in self.images:
            raise NotFound(f"remove image {image}: no such image")
        self.images.remove(image)


SETTINGS = CacheSettings(min_age=100, unused_for=50, per_sweep=2)


def test_only_pulled_unused_old_images_go_least_recently_used_first() -> None:
    engine = FakeEngine({"mine:a", "mine:b", "mine:c", "mine:running", "young:x", "someone-elses:latest"})
    cache = ImageCache(engine, SETTINGS)
    for image in ("mine:a", "mine:b", "mine:c", "mine:running"):
        cache.pulled(image, now=0)
    cache.pulled("young:x", now=150)
    cache.used({"mine:b"}, now=20)
    cache.used({"mine:c"}, now=40)

    assert cache.sweep({"mine:running"}, now=99) == "", "nothing before the minimum age"
    said = cache.sweep({"mine:running"}, now=160)
    # a (used at 0) and b (20) go first; the cap leaves c for the next sweep.
    assert said == "removed 2 unused image(s): mine:a, mine:b; 1 more left for the next sweep"
    assert engine.images == {"mine:c", "mine:running", "young:x", "someone-elses:latest"}
    assert cache.sweep({"mine:running"}, now=161) == "removed 1 unused image(s): mine:c"
    assert "mine:running" in engine.images and "someone-elses:latest" in engine.images
    assert cache.sweep(set(), now=200) == "", "running until now: used recently, kept"
    assert cache.sweep(set(), now=251) == "removed 2 unused image(s): young:x, mine:running"
    assert engine.images == {"someone-elses:latest"}, "an image the agent did not pull is never removed"


def test_a_refused_removal_is_retried_and_a_vanished_image_forgotten() -> None:
    engine = FakeEngine({"held:1", "gone:1"})
    cache = ImageCache(engine, SETTINGS)
    cache.pulled("held:1", now=0)
    cache.pulled("gone:1", now=0)
    engine.images.discard("gone:1")
    engine.held.add("held:1")
    said = cache.sweep(set(), now=500)
    assert said.startswith("removed 1 unused image(s): gone:1; could not remove held:1 (")
    assert cache.tracked() == {"held:1"}
    engine.held.clear()
    assert cache.sweep(set(), now=600) == "removed 1 unused image(s): held:1"
    assert cache.tracked() == set()


class CleanableRuntime(HollowRuntime):
    """The in-memory runtime with the engine's image removal."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.removed: list[str] = []

    def remove_image(self, image: str) -> None:
        self.removed.append(image)
        self.missing_images.add(image)


def test_the_agent_removes_the_image_it_pulled_once_no_task_uses_it() -> None:
    rt = CleanableRuntime(missing_images={"app:1"})
    agent = Agent(AgentConfig(node_id="n1", gc_delay=0, resync_interval=0,
                              image_cache=CacheSettings(min_age=0, unused_for=0, per_sweep=5)), rt)
    pulled = assignment("t1", [r.ContainerDefinition(name="m", image="app:1")])
    local = assignment("t2", [r.ContainerDefinition(name="m", image="img")])
    agent.apply_assignments(agent_pb2.Assignments(revision=1, tasks=[pulled, local]))
    agent.run_cycle()
    agent.run_cycle()
    assert rt.pulls == ["app:1"] and rt.removed == [], "a running task's image stays"
    agent.apply_assignments(agent_pb2.Assignments(revision=2, tasks=[local]))
    agent.run_cycle()
    agent.run_cycle()
    assert rt.removed == ["app:1"], "the pulled image goes once unassigned; the one found on the node never"
    assert agent.pulls.cache is not None and agent.pulls.cache.tracked() == set()
