"""What bench/images.py measures beside task start, against the same cluster:

* `shoal app deploy` of the example app (a copy of examples/hello): the time from invoking
  the command to the first 200 from the URL it prints; then its page edited and deployed
  again: invoking -> the first answer of the new version from the same URL (polled
  throughout, so the edit's first answer is seen even while the command still waits);
* `docker pull` from the cluster registry vs `docker load` of the same image: the image is
  saved to a tar once; then, alternating which goes first, the image is removed and pulled
  (with the bench's login), removed and loaded from the tar; MB/s of each is the tar's size
  over the command's time."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import docker

from bench._timing import wait

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "hello"


def _answer(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode().strip() if resp.status == 200 else None
    except (urllib.error.URLError, OSError):
        return None


def _deploy(app: Path, env: dict[str, str]) -> str:
    """Runs `shoal app deploy` of ``app``; returns the URL it prints last."""
    done = subprocess.run([sys.executable, "-m", "shoalctl", "app", "deploy", str(app), "--cpu", "32", "--memory",
                           "32", "--min", "1", "--max", "2"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"bench: shoal app deploy {app.name} failed: {done.stdout}{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def deploy_to_url(tmp: Path, env: dict[str, str], client: docker.DockerClient, made: set[str]) -> tuple[float, float]:
    """Seconds from invoking `shoal app deploy` to the first 200 from its URL, and from
    invoking it again after an edit to the edit's first answer. The images deploy built go
    into ``made`` (by id) for the caller to remove."""
    app = tmp / f"benchhello{int(time.time()) % 100000}"
    shutil.copytree(EXAMPLE, app)
    first = (EXAMPLE / "index.html").read_text().strip()
    started = time.perf_counter()
    url = _deploy(app, env)
    made.add(client.images.get(f"shoal-app/{app.name}:latest").id)
    wait(lambda: _answer(url) == first, 120, "the example's URL answering", interval=0.01)
    first_seconds = time.perf_counter() - started

    edit = "hello from shoal, edited by the bench"
    (app / "index.html").write_text(edit + "\n")
    seen: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set() and not seen:
            if _answer(url) == edit:
                seen.append(time.perf_counter())
            else:
                time.sleep(0.01)

    poller = threading.Thread(target=poll, daemon=True)
    started = time.perf_counter()
    poller.start()
    try:
        _deploy(app, env)
        made.add(client.images.get(f"shoal-app/{app.name}:latest").id)
        wait(lambda: seen, 120, "the edit answering from the URL", interval=0.01)
    finally:
        stop.set()
        poller.join(timeout=10)
    return first_seconds, seen[0] - started


def _timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed: {done.stderr}")
    return time.perf_counter() - started


def pull_vs_load(tmp: Path, ref: str, env: dict[str, str], runs: int) -> tuple[int, dict[str, list[float]]]:
    """``ref`` (made and pushed by the caller) saved to a tar once, then ``runs`` rounds of
    `docker rmi` + `docker pull` and `docker rmi` + `docker load`; returns the tar's size in
    bytes and the MB/s of each, by "pull" and "load"."""
    tar = tmp / "pull-vs-load.tar"
    _timed(["docker", "save", "-o", str(tar), ref], env)
    size = tar.stat().st_size
    commands = {"pull": ["docker", "pull", "-q", ref], "load": ["docker", "load", "-q", "-i", str(tar)]}
    rates: dict[str, list[float]] = {k: [] for k in commands}
    for n in range(runs):
        for kind in (list(commands) if n % 2 == 0 else list(reversed(commands))):
            _timed(["docker", "rmi", ref], env)
            rates[kind].append(size / _timed(commands[kind], env) / 1e6)
    tar.unlink()
    return size, rates


def report(deploy: tuple[float, float], size: int, rates: dict[str, list[float]], runs: int) -> None:
    print(f"shoal app deploy examples/hello -> first 200 from the printed URL: {deploy[0]:.1f} s; "
          f"edited and deployed again -> the edit answering: {deploy[1]:.1f} s")
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"image of {size / 2**20:.0f} MiB, {runs} round(s), median MB/s: docker pull from the cluster registry "
          f"{med['pull']:.0f}, docker load of its tar {med['load']:.0f} (pull/load {med['pull'] / med['load']:.2f})")
