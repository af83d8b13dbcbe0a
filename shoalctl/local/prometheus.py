"""A real Prometheus for the local cluster: the config that scrapes the control plane and
finds every agent through the control plane's HTTP service discovery (/sd), and the process
started from the installed `prometheus` binary."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

import requests

from shoal import logs
from shoalctl.local import procs

log = logging.getLogger(__name__)

BINARY = "prometheus"


def available(binary: str = BINARY) -> str | None:
    """The binary's path, or None when Prometheus is not installed."""
    return shutil.which(binary)


def render_config(controlplane_metrics: str, scrape_interval: float = 5.0) -> str:
    """The prometheus.yml text. ``controlplane_metrics`` is the control plane's metrics
    HOST:PORT. JSON is valid YAML, which saves a YAML dependency."""
    interval = _duration(scrape_interval)
    config = {
        "global": {
            "scrape_interval": interval,
            "evaluation_interval": interval,
            # Scrapes must finish inside the interval; agents on a busy box can be slow.
            "scrape_timeout": _duration(max(1.0, scrape_interval * 0.8)),
        },
        "scrape_configs": [
            {
                "job_name": "shoal-controlplane",
                "static_configs": [{"targets": [controlplane_metrics]}],
            },
            {
                "job_name": "shoal-agents",
                "http_sd_configs": [
                    {"url": f"http://{controlplane_metrics}/sd", "refresh_interval": interval}
                ],
            },
        ],
    }
    return json.dumps(config, indent=2) + "\n"


class PrometheusProcess(procs.Supervised):
    """Prometheus listening on ``host:port`` with its TSDB in ``data_dir``. ``start()`` returns
    once /-/ready answers 200."""

    def __init__(
        self,
        config_path: Path,
        data_dir: Path,
        log_path: Path,
        port: int,
        host: str = "127.0.0.1",
        binary: str = BINARY,
    ) -> None:
        self.config_path = Path(config_path)
        self.data_dir = Path(data_dir)
        self.log_path = Path(log_path)
        self.host = host
        self.port = port
        self.binary = binary
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def for_cluster(cls, base: Path, logs_dir: Path, controlplane_metrics: str, scrape_interval: float,
                    port: int) -> PrometheusProcess:
        """One scraping a local cluster's control plane: config and data under ``base``."""
        base.mkdir(parents=True, exist_ok=True)
        config = base / "prometheus.yml"
        config.write_text(render_config(controlplane_metrics, scrape_interval))
        return cls(config, base / "data", logs_dir / "prometheus.log", port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address={self.host}:{self.port}",
            # A local cluster needs hours, not Prometheus' default 15 days.
            "--storage.tsdb.retention.time=1d",
            # Lets tests and the autoscaler reload a changed config with POST /-/reload.
            "--web.enable-lifecycle",
        ]

    def start(self, timeout: float = 60) -> None:
        """Spawns Prometheus and waits until ready; on failure kills it and raises
        RuntimeError with the tail of its log."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log.info("starting prometheus", extra=logs.kv(url=self.url, log=self.log_path))
        self.proc = procs.spawn(self.command(), self.log_path)
        try:
            self.until_ready(self._ready, "prometheus", self.url, timeout, interval=0.2)
        except RuntimeError:
            procs.kill_popen(self.proc)
            raise

    def stop(self, timeout: float = 10) -> str:
        if self.proc is None:
            return "prometheus was not started"
        return procs.stop_popen(self.proc, "prometheus", timeout)

    def _ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False


def _duration(seconds: float) -> str:
    """Prometheus duration syntax: whole seconds when possible, else milliseconds."""
    ms = int(round(seconds * 1000))
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"
