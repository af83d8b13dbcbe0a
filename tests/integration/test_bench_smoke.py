"""Every bench/ script runs once, briefly (``--smoke``), and prints its figures, so none can
silently break again. The figures of a smoke run are not checked against any target: only
that the script ran to the end against real parts and said what it measured."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"[0-9][0-9,.]*"

# script -> lines its output must hold (regular expressions), one per figure it reports.
FIGURES = {
    "routing_table.py": [
        rf"{NUMBER} tasks, {NUMBER} services/target groups, {NUMBER} nodes: build median {NUMBER} ms, "
        rf"max {NUMBER} ms over {NUMBER} rounds; table {NUMBER} bytes",
    ],
    "list_tasks.py": [
        rf"service +median +{NUMBER} ms +max +{NUMBER} ms",
        rf"service \+ RUNNING +median +{NUMBER} ms +max +{NUMBER} ms",
        rf"whole cluster +median +{NUMBER} ms +max +{NUMBER} ms",
    ],
    "placement.py": [
        rf"1000 nodes  batch of 200: +{NUMBER} decisions/s",
        rf"one task per call, from scratch +x100: +{NUMBER} calls/s, p50 {NUMBER} ms p99 {NUMBER} ms",
        rf"one task per call, memoized +x300: +{NUMBER} calls/s, p50 {NUMBER} ms p99 {NUMBER} ms",
    ],
    "scale.py": [
        r"mtls +on\n",
        rf"join_seconds +{NUMBER}\n",
        rf"connect_seconds +{NUMBER}\n",
        rf"rollout_seconds +{NUMBER}\n",
        rf"ListTasks_p99_ms +{NUMBER}\n",
        r"tasks_running_checked +100\n",
    ],
    "core.py": [
        rf"launch 3 tasks on 3 agents: shoal {NUMBER}s",
        rf"RunTask->RUNNING \(3 samples\): p50 {NUMBER} ms, p99 n/a",
        rf"agent with 3 tasks: RSS {NUMBER} MiB",
    ],
    "failover.py": [
        rf"lost node: its tasks RUNNING elsewhere.*{NUMBER}",
        rf"leader killed: another replica leads.*{NUMBER}",
    ],
    "daemon_coverage.py": [
        rf"daemon coverage over 1 joining nodes: join -> RUNNING median {NUMBER} s, max {NUMBER} s; "
        rf"registered -> RUNNING median {NUMBER} s, max {NUMBER} s",
    ],
    "dns.py": [
        rf"local A answer: p50 {NUMBER} ms p99 {NUMBER} ms",
        rf"forwarding adds: p50 -?{NUMBER} ms p99 -?{NUMBER} ms",
        rf"local answers, 8 clients at once: {NUMBER} queries/s",
        rf"apply of the whole table: {NUMBER} ms",
    ],
    "console.py": [
        rf"etcd change -> on the page \(5 samples\): p50 {NUMBER} ms, p99 {NUMBER} ms",
        rf"{NUMBER} % of a core with no console, {NUMBER} % with 3 open",
    ],
    "console_topology.py": [
        r"topology page, 60 nodes in 3 zones, 200 tasks of 10 services, headless Chromium:",
        rf"open to every tile drawn: median {NUMBER} ms, max {NUMBER} ms \(1 opens\)",
        rf"/api/nodes \(read on each notice while the page is open\): {NUMBER} KiB",
        rf"a task changing every 100 ms for 3 s: {NUMBER} notices, {NUMBER} bytes; the open page re-read "
        rf"/api/nodes {NUMBER} times",
        rf"a drain written to the store -> its tile marked on the open page: {NUMBER} ms",
    ],
    "traffic.py": [
        rf"latency p50 \(1 connection\) +direct {NUMBER} ms +through haproxy {NUMBER} ms +added -?{NUMBER} ms",
        rf"latency p99 \(1 connection\) +direct {NUMBER} ms +through haproxy {NUMBER} ms +added -?{NUMBER} ms",
        rf"throughput \(32 connections\) +direct {NUMBER} req/s +through haproxy {NUMBER} req/s +ratio {NUMBER}",
        rf"CPU per request \(32 connections\): backend {NUMBER} us direct, {NUMBER} us through haproxy; haproxy's "
        rf"worker {NUMBER} us; wrk {NUMBER} / {NUMBER} us +haproxy -> backend over all runs: {NUMBER} connections "
        rf"opened, {NUMBER} requests on a reused connection",
        rf"ratio the CPU per request allows: {NUMBER} when the backend's thread is the limit, {NUMBER} when the "
        rf"{NUMBER} cores are",
        rf"server-set changes under load \(8 connections, {NUMBER} s\): 6 of 6 changes through the runtime API, "
        rf"0 reloads, {NUMBER} failed of {NUMBER} requests",
        rf"rolling deployment of 3 tasks .*: {NUMBER} failed of {NUMBER} requests in {NUMBER} s +"
        rf"steady state before it: {NUMBER} failed of {NUMBER} in {NUMBER} s",
        rf"target healthy -> first request through the proxy \(3 new tasks\): median -?{NUMBER} s, max -?{NUMBER} s "
        rf"from the agent's passing check",
        rf"agent killed -9 \(agent-\d, lease TTL {NUMBER} s\): {NUMBER} failed of {NUMBER} before the node was "
        rf"judged lost \({NUMBER} s\), {NUMBER} failed of {NUMBER} in the {NUMBER} s after",
    ],
    "images.py": [
        rf"registry front, 2 MiB blob, 2 run\(s\), median MB/s: push through the front {NUMBER}, straight to the "
        rf"registry {NUMBER} \(front/direct {NUMBER}\); pull through the front {NUMBER}, straight {NUMBER} "
        rf"\(front/direct {NUMBER}\)",
        rf"RunTask->RUNNING, ~3 MiB image, 1 round\(s\), medians: present {NUMBER} ms, cold pull from the cluster "
        rf"registry {NUMBER} ms, pre-pulled {NUMBER} ms",
        rf"ratios to present: cold {NUMBER}x, pre-pulled {NUMBER}x; pre-pulled vs cold {NUMBER}x",
        rf"pre-pull \(CreateService -> image on the node\): median {NUMBER} ms, max {NUMBER} ms",
        rf"shoal app deploy examples/hello -> first 200 from the printed URL: {NUMBER} s; edited and deployed "
        rf"again -> the edit answering: {NUMBER} s",
        rf"image of {NUMBER} MiB, 2 round\(s\), median MB/s: docker pull from the cluster registry {NUMBER}, "
        rf"docker load of its tar {NUMBER} \(pull/load {NUMBER}\)",
    ],
    "bluegreen.py": [
        rf"blue/green deployment of 3 tasks .*: {NUMBER} failed of {NUMBER} requests in {NUMBER} s +"
        rf"steady state before it: {NUMBER} failed of {NUMBER} in {NUMBER} s",
        rf"traffic switch: last answer from blue [-+]{NUMBER} s after the control plane's switch; "
        rf"first answer from green [-+]{NUMBER} s after it",
    ],
    "partition_tolerance.py": [
        rf"cut off for {NUMBER} s, lease TTL {NUMBER} s, tolerance {NUMBER} s: UNKNOWN after {NUMBER} s, "
        rf"RUNNING again {NUMBER} s after the heal",
        rf"tasks lost: {NUMBER}, replacements started: {NUMBER}, duplicate containers after: {NUMBER}",
    ],
    "capacity_scaleout.py": [
        rf"RunTask -> new node registered +median {NUMBER} s, max {NUMBER} s",
        rf"RunTask -> RUNNING on the new node +median {NUMBER} s, max {NUMBER} s",
        rf"baseline RunTask -> RUNNING \(node with room\) +median {NUMBER} s, max {NUMBER} s",
        rf"tasks stopped -> scale-in to 0 nodes +{NUMBER} s",
    ],
    "autoscale_reaction.py": [
        r"rounds \(breaches\) +1\n",
        rf"breach -> first scale-out decision +median -?{NUMBER}s, max -?{NUMBER}s",
        rf"load start -> new tasks RUNNING +median {NUMBER}s",
    ],
}


def test_every_bench_script_is_smoke_tested() -> None:
    # A name starting with "_" is a module a script imports, not a script.
    assert sorted(FIGURES) == sorted(p.name for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("script", sorted(FIGURES))
def test_bench_script_runs_and_prints_its_figures(script: str) -> None:
    # Run as README says (`python bench/X.py` from the checkout), with no PYTHONPATH to lend
    # the script an import path of its own: dns.py once ran here only because of one.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), "--smoke"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{out[-3000:]}\n{proc.stderr[-3000:]}"
    missing = [pattern for pattern in FIGURES[script] if not re.search(pattern, out)]
    assert not missing, f"{script} did not print {missing}:\n{out[-3000:]}"
