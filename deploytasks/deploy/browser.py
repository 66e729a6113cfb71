"""Look at the Prefect UI in headless Chromium: are the deployments really rendered?

The UI is a single-page app, so its HTML alone proves nothing; Chromium runs
it, and the rendered DOM is searched for each deployment's name. A
deployment missing from the list page (it paginates) is looked up on its
own page.

A look that finds nothing is repeated (a loaded machine may run out of the
virtual time budget before the app has rendered, or Chromium may exit early);
the last page seen is kept as ``deployments.html`` next to the screenshot, so a
"not rendered" can be explained.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from deploytasks import paths
from deploytasks.errors import ServiceUnavailable

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1600,1800", "--virtual-time-budget=20000")
TIMEOUT = 120
ATTEMPTS = 3
PAUSE = 1.5  # seconds before the next look, times the attempt number


@dataclass
class BrowserResult:
    """Names rendered, names not rendered, and where the screenshot is."""

    screenshot: Path
    seen: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def check_in_browser(ui: str, links: dict[str, str], root: Path) -> BrowserResult:
    """Render the deployments page (and, where needed, each deployment's page)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise ServiceUnavailable("Chromium is not installed, so --browser cannot look at the UI",
                                 hint="install it (apt-get install chromium) or drop --browser")
    folder = paths.build_dir(root) / "check-ui"
    folder.mkdir(parents=True, exist_ok=True)
    result = BrowserResult(folder / "deployments.png")
    listing = f"{ui}/deployments"
    _run(chromium, [f"--screenshot={result.screenshot}", listing])
    page = _look(chromium, listing, list(links))
    (folder / "deployments.html").write_text(page, encoding="utf-8")
    for name, link in links.items():
        if _shows(page, name) or _shows(_look(chromium, link, [name]), name):
            result.seen.append(name)
        else:
            result.missing.append(name)
    return result


def _look(chromium: str, url: str, names: list[str]) -> str:
    """The rendered DOM of ``url``, looked at again (after a pause) while it shows none of
    ``names``; Chromium failing every time is an error, not a "not rendered"."""
    dom, failure = "", ""
    for attempt in range(ATTEMPTS):
        if attempt:
            time.sleep(PAUSE * attempt)
        dom, failure = _dump(chromium, url)
        if any(_shows(dom, name) for name in names):
            break
    if not dom and failure:
        raise ServiceUnavailable(f"Chromium could not render {url}: {failure}",
                                 hint="run it by hand to see why: chromium --headless "
                                      f"--no-sandbox --dump-dom {url}")
    return dom


def _dump(chromium: str, url: str) -> tuple[str, str]:
    """The DOM Chromium rendered, and its last error line when it rendered nothing."""
    done = _run(chromium, ["--dump-dom", url])
    if done.stdout.strip():
        return done.stdout, ""
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line or "FATAL" in line]
    return "", (errors[-1].split("] ", 1)[-1] if errors else f"exit code {done.returncode}")


def _shows(dom: str, name: str) -> bool:
    """``name`` appears as a whole name (not inside ``name-x2``)."""
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", dom) is not None


def _run(chromium: str, arguments: list[str]) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="deploytasks-chromium-") as profile:
        command = [chromium, *FLAGS, f"--user-data-dir={profile}", *arguments]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise ServiceUnavailable(f"Chromium did not finish within {TIMEOUT} s") from None
    return done
