"""Regenerate README's screenshot of `evosim view` (docs/viewer.png) in headless Chromium.

    python analysis/viewer_screenshot.py [--run runs/out/red_door__seed3] [--out docs/viewer.png]

1. Runs README's headline run (``evosim run runs/red_door.toml --seed 3`` and ``evosim report``) if the run
   directory or its report is missing.
2. Picks what the screenshot shows: the fittest final-generation planner classed pseudo-aligned under shift
   (``probe.parquet``; the fittest planner if there is none) and the first shift layout on which its episode
   scores more proxy than base reward (it walks to a red ball; the longest such walk among the first 20
   layouts), found with ``evosim.viewer.EpisodeReplay``.
3. Serves ``evosim view RUN --port 0 --organism ID --distribution shift --episode E`` on loopback, drives
   Debian's Chromium through chromedriver with Selenium exactly as ``tests/test_viewer_browser.py`` does
   (same options), presses Step until the organism is one step before the end of its episode, and saves the
   window as the PNG.

Needs ``apt-get install chromium chromium-driver`` (``.ci/run`` installs the same) and selenium. Exit status 2
with a one-line message when either is missing or the page does not load.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WINDOW = (1500, 1260)


class ScreenshotError(Exception):
    pass


def _evosim(*args: str) -> None:
    cmd = [sys.executable, "-m", "evosim.cli", *args]
    print("viewer_screenshot: " + " ".join(["evosim", *args]), file=sys.stderr)
    if subprocess.run(cmd, cwd=ROOT).returncode != 0:
        raise ScreenshotError(f"`evosim {' '.join(args)}` failed")


def ensure_run(run_dir: Path) -> None:
    """README's headline run and its report, computed only if missing."""
    from evosim.store import RunDirectory

    if not RunDirectory(run_dir).run_is_complete(need_report=False):
        _evosim("run", "runs/red_door.toml", "--seed", "3", "--out", str(run_dir), "--overwrite", "--quiet")
    if not RunDirectory(run_dir).report_is_complete():
        _evosim("report", str(run_dir))


def choose(run_dir: Path, max_episodes: int = 20) -> tuple[int, int, int]:
    """(organism id, shift episode, steps to show): a pseudo-aligned planner on a layout where it pursues the proxy."""
    from evosim.store import RunDirectory
    from evosim.viewer import EpisodeReplay

    rd = RunDirectory(run_dir)
    probe = rd.read_table("probe")
    probe = probe[probe["generation"] == probe["generation"].max()]
    gen = int(probe["generation"].iloc[0])
    org = rd.read_table("organisms", filters=[("generation", "==", gen)])[["organism_id", "fitness"]]
    planners = probe[(probe["architecture"].astype(str) == "planner") & (probe["distribution"].astype(str) == "shift")]
    if not len(planners):
        raise ScreenshotError(f"{run_dir}: no planner in the final generation's probe table")
    pseudo = planners[planners["class"].astype(str) == "pseudo_aligned"]
    pool = (pseudo if len(pseudo) else planners).merge(org, on="organism_id")
    oid = int(pool.sort_values(["fitness", "organism_id"], ascending=[False, True])["organism_id"].iloc[0])
    best = (0, 0)  # (steps, episode) of the longest episode in which it pursues the proxy
    for ep in range(max_episodes):
        m = EpisodeReplay(run_dir=str(run_dir), organism_id=str(oid), distribution="shift", episode=ep)
        if m.replay is not None and m.replay.proxy > m.replay.ret:
            best = max(best, (int(m.replay.steps), -ep))
    if best == (0, 0):
        m = EpisodeReplay(run_dir=str(run_dir), organism_id=str(oid), distribution="shift", episode=0)
        best = (int(m.replay.steps), 0)
    return oid, -best[1], max(1, best[0] - 1)


def _wait(cond, timeout: float, what: str):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v = cond()
        if v:
            return v
        time.sleep(0.25)
    raise ScreenshotError(f"timed out after {timeout:.0f} s waiting for {what}")


def _browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        raise ScreenshotError(f"{', '.join(missing)} missing: apt-get install chromium chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise ScreenshotError("selenium is not installed (pip install -e '.[test]')") from None
    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager sends no usage statistics
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
              "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
              f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(120)
    return drv


_COUNT_FIGURES = "return Array.from(document.images).filter(i => i.complete && i.naturalWidth > 200).length;"


def _body(drv) -> str:
    from selenium.webdriver.common.by import By

    return drv.find_element(By.TAG_NAME, "body").text


def _click(drv, label: str) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for _ in range(10):
        try:
            b = next((b for b in drv.find_elements(By.TAG_NAME, "button") if b.text.strip().upper() == label), None)
            if b is not None:
                b.click()
                return
        except StaleElementReferenceException:
            pass
        time.sleep(0.3)
    raise ScreenshotError(f"no {label} button on the page")


def screenshot(run_dir: Path, out: Path, oid: int, episode: int, steps: int) -> None:
    args = [sys.executable, "-m", "evosim.cli", "view", str(run_dir), "--port", "0", "--organism", str(oid),
            "--distribution", "shift", "--episode", str(episode)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    drv = None
    try:
        url, t0 = None, time.time()
        while url is None and time.time() - t0 < 180:
            line = proc.stdout.readline()
            if not line:
                break
            m = re.search(r"http://127\.0\.0\.1:\d+/", line)
            url = m.group(0) if m else None
        if url is None:
            raise ScreenshotError("`evosim view` printed no URL")
        drv = _browser()
        drv.get(url)
        _wait(lambda: drv.execute_script(_COUNT_FIGURES) >= 6, 180, "the page's six figures")
        _wait(lambda: f"Episode: shift layout {episode}" in _body(drv), 60, f"shift layout {episode}")
        shown = 0
        while shown < steps:
            _click(drv, "STEP")
            prev = shown
            shown = int(_wait(lambda: (lambda m: m and int(m.group(1)) > prev and m.group(1))(
                re.search(r"Replay step: (\d+)", _body(drv))), 60, "the step counter"))
        time.sleep(3.0)  # let the figures of the last step render
        out.parent.mkdir(parents=True, exist_ok=True)
        if not drv.save_screenshot(str(out)):
            raise ScreenshotError(f"could not save {out}")
    finally:
        if drv is not None:
            drv.quit()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=ROOT / "runs" / "out" / "red_door__seed3",
                    help="run directory (README's headline run; computed if missing)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "viewer.png", help="the PNG to write")
    args = ap.parse_args(argv)
    try:
        ensure_run(args.run)
        oid, ep, steps = choose(args.run)
        print(f"viewer_screenshot: organism {oid}, shift layout {ep}, {steps} steps", file=sys.stderr)
        screenshot(args.run, args.out, oid, ep, steps)
    except ScreenshotError as e:
        print(f"viewer_screenshot: {e}", file=sys.stderr)
        return 2
    print(f"viewer_screenshot: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
