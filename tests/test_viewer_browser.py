"""``evosim view`` in a real browser: Debian's headless Chromium, driven by Selenium through
chromedriver, against the viewer served on a free loopback port.

Checks: the page loads; the grid shows the organism (its colour, where the replay says it is);
Step moves it; switching the distribution to shift and pressing Reset changes the layout; the
run directory is untouched; the server reached for nothing off this machine. A screenshot is
saved as a test artefact (``$EVOSIM_TEST_ARTIFACTS``, default ``test-artifacts/``).

Skipped only where Chromium is missing and ``EVOSIM_REQUIRE_BROWSER`` is unset; ``.ci/run``
installs Chromium and sets it, so CI never skips this.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

CHROMIUM, CHROMEDRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"
ORGANISM_RGB = np.array([0xFF, 0x7F, 0x0E])  # evosim.viewer.panels.ORGANISM_COLOUR


def _browser_or_skip():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        if os.environ.get("EVOSIM_REQUIRE_BROWSER"):
            pytest.fail(f"EVOSIM_REQUIRE_BROWSER is set but {missing} are missing (apt-get install chromium chromium-driver)")
        pytest.skip(f"no Chromium here ({missing}); apt-get install chromium chromium-driver")
    pytest.importorskip("selenium")


@pytest.fixture(scope="module")
def run_dir(small_mixed_runs):
    """``conftest.small_mixed_run`` with its report (shared with test_viewer.py, read-only)."""
    return small_mixed_runs["reported"]


def _digest(d: Path) -> dict:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*"))
            if p.is_file()}


@contextlib.contextmanager
def _serving(run_dir: Path, err: Path, *args: str):
    """``evosim view RUN --port 0 ARGS`` in a subprocess; yields the URL it prints."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(err, "w") as errf:
        proc = subprocess.Popen([sys.executable, "-m", "evosim.cli", "view", str(run_dir), "--port", "0", *args],
                                stdout=subprocess.PIPE, stderr=errf, text=True, env=env, cwd=ROOT)
        try:
            url, lines, t0 = None, [], time.time()
            while url is None and time.time() - t0 < 180:
                line = proc.stdout.readline()
                if not line:
                    break
                lines.append(line)
                m = re.search(r"http://127\.0\.0\.1:\d+/", line)
                url = m.group(0) if m else None
            assert url, f"no URL printed: {lines!r}, stderr: {err.read_text()[-2000:]}"
            yield url
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, f"Ctrl-C should stop the viewer cleanly: exit {proc.returncode}"


@pytest.fixture
def server(run_dir, tmp_path):
    """The viewer on the reported run, planners first; yields (url, stderr path)."""
    err = tmp_path / "server.err"
    with _serving(run_dir, err, "--architecture", "planner") as url:
        yield url, err


@pytest.fixture
def browser():
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager sends no usage statistics
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
              "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--window-size=1400,1100"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(120)
    try:
        yield drv
    finally:
        drv.quit()


def _wait(cond, timeout=90.0, what="condition"):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = cond()
        if v:
            return v
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


_READ_FIGURES = """
return Array.from(document.images).filter(i => i.complete && i.naturalWidth > 200).map(i => {
  const c = document.createElement('canvas');
  c.width = i.naturalWidth; c.height = i.naturalHeight;
  c.getContext('2d').drawImage(i, 0, 0);
  return c.toDataURL('image/png');
});
"""


def _figures(drv) -> list[str]:
    """The page's Matplotlib figures as PNG data URLs, in page order (read in one go: Solara
    re-renders, and serves figures as blob URLs)."""
    return drv.execute_script(_READ_FIGURES)


def _settled(drv, current: str, quiet: float = 1.0) -> str:
    """The grid figure once it has stopped changing for ``quiet`` seconds."""
    t0 = time.time()
    while time.time() - t0 < quiet:
        f = _figures(drv)
        if f and f[0] != current:
            current, t0 = f[0], time.time()
        time.sleep(0.1)
    return current


def _pixels(src: str) -> np.ndarray:
    from matplotlib.image import imread

    return (imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), format="png")[..., :3] * 255).round()


def _organism_centre(src: str) -> np.ndarray:
    px = _pixels(src)
    mask = (np.abs(px - ORGANISM_RGB) <= 6).all(axis=-1)
    assert mask.sum() > 30, "the organism is not drawn on the grid"
    return np.argwhere(mask).mean(axis=0)


def _button(drv, label):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    def find():
        try:
            return next((b for b in drv.find_elements(By.TAG_NAME, "button") if b.text.strip().upper() == label), None)
        except StaleElementReferenceException:
            return None

    return _wait(find, 30, f"the {label} button")


def _click(drv, label):
    from selenium.common.exceptions import StaleElementReferenceException

    for _ in range(5):
        try:
            _button(drv, label).click()
            return
        except StaleElementReferenceException:
            time.sleep(0.3)
    raise AssertionError(f"could not click {label}")


def _card_text(drv) -> str:
    from selenium.webdriver.common.by import By

    return drv.find_element(By.TAG_NAME, "body").text


def _choose(drv, label, value):
    """Pick ``value`` in the Vuetify select labelled ``label``."""
    from selenium.webdriver.common.by import By

    drv.find_element(By.XPATH, f"//label[normalize-space()='{label}']/parent::div[contains(@class,'v-select__slot')]").click()
    item = _wait(lambda: next((i for i in drv.find_elements(By.CSS_SELECTOR, ".menuable__content__active .v-list-item")
                               if i.text.strip() == value), None), 30, f"option {value!r} of {label!r}")
    item.click()


def test_viewer_in_chromium(run_dir, server, browser):
    from evosim.viewer import EpisodeReplay

    url, err = server
    before = _digest(run_dir)
    browser.get(url)
    figs = _wait(lambda: (lambda f: f if len(f) >= 6 else None)(_figures(browser)), 180, "the page's six figures")
    text = _card_text(browser)
    assert "Episode: train layout 0" in text, text[:2000]
    oid = int(re.search(r"Organism (\d+)", text).group(1))
    expect = EpisodeReplay(run_dir=str(run_dir), architecture="planner")
    assert oid == int(expect.organism["organism_id"])
    assert expect.replay.steps >= 2, "the fixture episode should last a few steps"

    # The grid shows the organism, at its start cell
    grid0 = _settled(browser, figs[0])
    assert "Replay step: 0 of" in _card_text(browser)
    c0 = _organism_centre(grid0)

    # Step moves it the way the replay says (the page's step counter says how far it went)
    _click(browser, "STEP")
    _wait(lambda: re.search(r"Replay step: [1-9]", _card_text(browser)), 60, "the step counter")
    grid1 = _wait(lambda: (lambda f: f[0] if f and f[0] != grid0 else None)(_figures(browser)), 60, "a redrawn grid")
    grid1 = _settled(browser, grid1)
    t = int(re.search(r"Replay step: (\d+)", _card_text(browser)).group(1))
    c1 = _organism_centre(grid1)
    (y0, x0), (y1, x1) = expect.replay.cells[0], expect.replay.cells[t]
    move = c1 - c0
    assert np.linalg.norm(move) > 5, "Step did not move the organism"
    cell = np.abs(move).max() / max(abs(int(y1 - y0)), abs(int(x1 - x0)), 1)  # pixels per cell
    assert np.round(move / cell).astype(int).tolist() == [int(y1 - y0), int(x1 - x0)], (t, move, cell)

    # Switching to the shift distribution (and Reset) replays a shift layout
    walls_train = (_pixels(grid1).mean(axis=-1) < 90)
    _choose(browser, "Layout distribution", "shift")
    _click(browser, "RESET")
    _wait(lambda: "Episode: shift layout 0" in _card_text(browser), 90, "the shift episode")
    grid2 = _wait(lambda: (lambda f: f[0] if f and f[0] not in (grid0, grid1) else None)(_figures(browser)), 60,
                  "the shift grid")
    walls_shift = (_pixels(grid2).mean(axis=-1) < 90)
    assert (walls_train != walls_shift).mean() > 0.01, "the layout did not change"
    _organism_centre(grid2)

    out = Path(os.environ.get("EVOSIM_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    shot = out / "viewer_chromium.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000

    assert _digest(run_dir) == before, "the viewer wrote into the run directory"
    log = err.read_text()
    assert "Could not load URL" not in log, "the server reached for an asset off this machine"
    assert "Traceback" not in log, log[-3000:]


def test_viewer_opens_a_run_without_a_report(run_dir, tmp_path, browser):
    """No probe.parquet: the page still opens, replays, and says where outcome classes come from."""
    bare = tmp_path / "bare"
    shutil.copytree(run_dir, bare)
    for name in ("probe.parquet", "interventions.parquet"):
        (bare / name).unlink()
    before = _digest(bare)
    err = tmp_path / "server.err"
    with _serving(bare, err, "--distribution", "control", "--episode", "2") as url:
        browser.get(url)
        figs = _wait(lambda: (lambda f: f if len(f) >= 5 else None)(_figures(browser)), 180, "the page's figures")
        text = _card_text(browser)
        assert "Outcome class (run `evosim report`)" in text
        assert "Outcome classes: run evosim report for them" in text.replace("`", "")  # Markdown code
        assert "Episode: control layout 2" in text
        _organism_centre(figs[0])
    assert _digest(bare) == before
    assert "Traceback" not in err.read_text()
