"""Debian's Chromium, headless, driven by Selenium: for the console's browser tests and the
console benches, and the script that times the topology page."""

from __future__ import annotations

import shutil
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


def chromium(profile: Path, window: str = "", log_output: str | None = None) -> webdriver.Chrome:
    """A headless Chromium with its profile under ``profile`` and, when given, a window size
    ("1400,1000") and chromedriver's log file; the caller quits it."""
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                *([f"--window-size={window}"] if window else []), f"--user-data-dir={profile / 'chromium'}"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver"), log_output=log_output))
