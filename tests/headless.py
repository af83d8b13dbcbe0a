"""Debian's Chromium, headless, driven by Selenium: for the console's browser tests and the
console benches, and the script that times the topology page; and the connection a plain
HTTP client (the door tests, the CPU bench's sessions) opens to a console, over HTTPS
checked against the cluster's CA when the console speaks it."""

from __future__ import annotations

import http.client
import shutil
import ssl
import urllib.parse
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

# Opens #/nodes and resolves with the ms until every tile (arguments[0] of them) is drawn.
OPEN_AND_TIME = """
const [want, done] = [arguments[0], arguments[arguments.length - 1]];
location.hash = '#/';
setTimeout(() => {
  const t0 = performance.now();
  location.hash = '#/nodes';
  const check = () => document.querySelectorAll('#page .tile').length === want
    ? done(performance.now() - t0) : requestAnimationFrame(check);
  requestAnimationFrame(check);
}, 300);
"""


def chromium(profile: Path, window: str = "", log_output: str | None = None,
             page_logs: bool = False) -> webdriver.Chrome:
    """A headless Chromium with its profile under ``profile`` and, when given, a window size
    ("1400,1000") and chromedriver's log file; the caller quits it. With ``page_logs`` it
    keeps the page's console messages and network events for ``get_log("browser")`` and
    ``get_log("performance")`` (what a failed wait on the page reports)."""
    options = webdriver.ChromeOptions()
    if page_logs:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        options.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
    options.binary_location = shutil.which("chromium") or ""
    # A local cluster's console serves a certificate from that cluster's own CA, which the
    # browser's trust store cannot hold before the cluster exists.
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--ignore-certificate-errors",
                *([f"--window-size={window}"] if window else []), f"--user-data-dir={profile / 'chromium'}"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver"), log_output=log_output))


def connect(url: urllib.parse.SplitResult, ca: Path | None, timeout: float) -> http.client.HTTPConnection:
    """A connection to the console at ``url``: HTTPS trusting only ``ca`` (the cluster's CA
    file) for an https URL, plain HTTP for an http one."""
    if url.scheme != "https":
        return http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    if ca is None:
        raise ValueError(f"{url.geturl()}: an https console needs the cluster's CA to be checked against")
    return http.client.HTTPSConnection(url.hostname, url.port, timeout=timeout,
                                       context=ssl.create_default_context(cafile=str(ca)))
