"""Look at the Prefect UI in headless Chromium: are the deployments really rendered?

The UI is a single-page app, so its HTML alone proves nothing; Chromium runs
it, and the rendered DOM is searched for each deployment's name. A
deployment missing from the list page (it paginates) is looked up on its
own page.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from deploytasks import paths
from deploytasks.errors import ServiceUnavailable

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1600,1800", "--virtual-time-budget=20000")
TIMEOUT = 120
ATTEMPTS = 2


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
    page = _run(chromium, ["--dump-dom", listing])
    for name, link in links.items():
        if _shows(page, name) or _on_its_page(chromium, link, name):
            result.seen.append(name)
        else:
            result.missing.append(name)
    return result


def _on_its_page(chromium: str, link: str, name: str) -> bool:
    """The deployment's own page shows its name; a second look before saying it does not
    (a loaded machine may run out of the virtual time budget before the app has rendered)."""
    return any(_shows(_run(chromium, ["--dump-dom", link]), name) for _ in range(ATTEMPTS))


def _shows(dom: str, name: str) -> bool:
    """``name`` appears as a whole name (not inside ``name-x2``)."""
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", dom) is not None


def _run(chromium: str, arguments: list[str]) -> str:
    with tempfile.TemporaryDirectory(prefix="deploytasks-chromium-") as profile:
        command = [chromium, *FLAGS, f"--user-data-dir={profile}", *arguments]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise ServiceUnavailable(f"Chromium did not finish within {TIMEOUT} s") from None
    return done.stdout
