"""How fast the viewer answers: time to the URL, to the first full page, and per Step.

Starts ``evosim view RUN_DIR --port 0`` (planners, shift layouts), opens it in Debian's headless
Chromium through Selenium (the same set-up as tests/test_viewer_browser.py), waits for every
figure, then clicks Step ``--steps`` times and times each redraw of the grid.

    python analysis/viewer_latency.py runs/out/red_door__seed3 [--steps 10] [--episode 1]
"""
from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import time

FIGURES = 6  # panels on the page (evosim/viewer/page.py)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--steps", type=int, default=10, help="Steps to time (fewer if the episode ends first)")
    ap.add_argument("--episode", type=int, default=1, help="held-out shift layout to replay")
    args = ap.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "evosim.cli", "view", args.run_dir, "--port", "0",
                             "--architecture", "planner", "--distribution", "shift", "--episode", str(args.episode)], stdout=subprocess.PIPE, text=True)
    try:
        url = None
        while url is None:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit("the viewer exited before printing its URL")
            m = re.search(r"http://\S+/", line)
            url = m.group(0) if m else None
        t_url = time.perf_counter() - t0
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"):
            opts.add_argument(a)
        drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        try:
            srcs = lambda: drv.execute_script("return Array.from(document.images).map(i => i.src)")  # noqa: E731
            t1 = time.perf_counter()
            drv.get(url)
            while len(srcs()) < FIGURES:
                time.sleep(0.02)
            t_page = time.perf_counter() - t1
            lat = []
            for _ in range(args.steps):
                before = srcs()[0]
                button = next(b for b in drv.find_elements(By.TAG_NAME, "button") if b.text.strip().upper() == "STEP")
                if not button.is_enabled():
                    break  # the episode is over
                t2 = time.perf_counter()
                button.click()
                while (lambda s: not s or s[0] == before)(srcs()):
                    time.sleep(0.005)
                lat.append(time.perf_counter() - t2)
        finally:
            drv.quit()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    print(f"URL printed after {t_url:.2f} s; first full page ({FIGURES} figures) after {t_page:.2f} s; "
          f"Step -> redrawn grid: median {statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms "
          f"over {len(lat)} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
