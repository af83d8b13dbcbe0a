"""`shoal top`'s picture and keys, rendered headless into a recording console."""

from __future__ import annotations

from rich.console import Console

from shoal.v1 import events_pb2 as ev
from shoal.v1 import resources_pb2 as r
from shoalctl.cli.top import Screen, Snapshot, bar, render


def node(name: str, zone: str, cpu_used: int, connected: bool = True, status: str = "ACTIVE") -> r.ContainerInstance:
    n = r.ContainerInstance(id=name + "-id", hostname=name, status=status, agent_connected=connected, cpu_units=1000,
                            memory_mib=2000, running_tasks_count=2)
    n.attributes.add(name="ecs.availability-zone", value=zone)
    n.remaining_resources.add(name="CPU", integer_value=1000 - cpu_used)
    n.remaining_resources.add(name="MEMORY", integer_value=1500)
    return n


def snapshot() -> Snapshot:
    svc = r.Service(service_name="web", desired_count=3, running_count=2, pending_count=1,
                    task_definition="arn:aws:ecs:local:0:task-definition/web:4")
    svc.deployments.add(status="PRIMARY", rollout_state="IN_PROGRESS")
    return Snapshot(nodes=[node("agent-1", "a", 500), node("agent-2", "b", 0, connected=False, status="DRAINING")],
                    services=[svc],
                    events=[ev.ClusterEvent(seq=i, created_at=1000.0 + i, kind="task", message=f"event {i}")
                            for i in range(1, 6)],
                    taken_at=1010.0)


def screen_text(screen: Screen, height: int = 40) -> str:
    console = Console(width=140, height=height, record=True, color_system=None)
    console.print(render(snapshot(), screen, height, "default"))
    return console.export_text()


def test_the_picture_shows_bars_counts_and_newest_events_first() -> None:
    out = screen_text(Screen())
    assert "1/2 nodes connected, 1 services" in out
    line1 = next(line for line in out.splitlines() if "agent-1" in line)
    assert "██████████░░░░░░░░░░ 500/1000" in line1 and "500/2000" in line1 and "connected" in line1
    line2 = next(line for line in out.splitlines() if "agent-2" in line)
    assert "lost" in line2 and "DRAINING" in line2 and "0/1000" in line2
    web = next(line for line in out.splitlines() if " web " in line)
    assert "2/3" in web and "web:4" in web and "IN_PROGRESS" in web
    assert out.index("event 5") < out.index("event 1")


def test_keys_move_focus_and_scroll_and_quit() -> None:
    screen = Screen()
    assert screen.key("\t") and screen.focus == 1
    assert screen.key("\t") and screen.key("j") and screen.offsets["events"] == 1
    assert "event 5" not in screen_text(screen) and "event 4" in screen_text(screen)
    assert screen.key("k") and screen.key("k") and screen.offsets["events"] == 0
    assert screen.key("\t") and screen.focus == 0
    assert not screen.key("q")


def test_bar_is_clamped() -> None:
    assert bar(5, 0).plain == "░" * 20 + " 5/0"
    assert bar(3000, 1000).plain.startswith("█" * 20)
