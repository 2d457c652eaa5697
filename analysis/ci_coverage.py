"""Coverage of 95% intervals for the mean of a share over n = 20 seeds, by simulation.

    python analysis/ci_coverage.py [--replicates 2000] [--seeds 20] [--resamples 9999] [--out analysis/out]
                                [--doc docs/statistics.md]

Each scenario draws ``--replicates`` experiments of ``--seeds`` per-seed shares from a known
distribution, computes the 95% interval of the mean with the BCa bootstrap (``evosim.stats.bca_interval``),
the percentile bootstrap (``evosim.schema.bootstrap_interval``) and the t interval
(``evosim.schema.t_interval``), and counts how often each contains the true mean. Writes
``coverage.csv`` to ``--out``, prints the Markdown table, and with ``--doc`` replaces the block
between ``<!-- coverage:begin -->`` and ``<!-- coverage:end -->`` in that file.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from evosim.schema import bootstrap_interval, t_interval
from evosim.stats import bca_interval, clopper_pearson

BEGIN, END = "<!-- coverage:begin -->", "<!-- coverage:end -->"


def _beta(a, b):
    return (lambda rng, n: rng.beta(a, b, n)), a / (a + b)


def _mixture(p, hi=(20, 1), lo=(1, 20)):
    """Fixation-like seeds: with probability p a share near 1 (Beta(hi)), else near 0 (Beta(lo))."""
    def draw(rng, n):
        fixed = rng.random(n) < p
        return np.where(fixed, rng.beta(*hi, n), rng.beta(*lo, n))
    return draw, p * hi[0] / sum(hi) + (1 - p) * lo[0] / sum(lo)


def _bernoulli(p):
    return (lambda rng, n: (rng.random(n) < p).astype(float)), p


#: (label, (draw(rng, n) -> shares, true mean))
SCENARIOS = {
    "beta_2_5": ("Beta(2, 5) (mean 0.29)", _beta(2, 5)),
    "beta_half": ("Beta(0.5, 0.5) (U-shaped, mean 0.5)", _beta(0.5, 0.5)),
    "beta_skewed": ("Beta(0.3, 3) (skewed to 0, mean 0.09)", _beta(0.3, 3)),
    "mixture_50": ("mixture: 50% of seeds near 1 (Beta(20, 1)), rest near 0 (Beta(1, 20))", _mixture(0.5)),
    "mixture_15": ("mixture: 15% of seeds near 1 (Beta(20, 1)), rest near 0 (Beta(1, 20))", _mixture(0.15)),
    "bernoulli_15": ("Bernoulli(0.15): every seed fixed (1) or lost (0)", _bernoulli(0.15)),
}
METHODS = ("bca", "percentile", "t")


def simulate(key: str, replicates: int, seeds: int, resamples: int) -> dict:
    label, (draw, mu) = SCENARIOS[key]
    data_rng = np.random.default_rng([2026, list(SCENARIOS).index(key)])
    hits = dict.fromkeys(METHODS, 0)
    width = dict.fromkeys(METHODS, 0.0)
    for r in range(replicates):
        v = draw(data_rng, seeds)
        iv = {
            "bca": bca_interval(v, n_resamples=resamples, rng=r),
            "percentile": bootstrap_interval(v, rng=r, n_boot=resamples + 1),
            "t": t_interval(v)[4:6],
        }
        for m, (lo, hi) in iv.items():
            hits[m] += bool(lo <= mu <= hi)
            width[m] += (hi - lo) / replicates
    row = {"scenario": key, "seeds_distribution": label, "true_mean": mu, "replicates": replicates, "seeds": seeds}
    for m in METHODS:
        lo, hi = clopper_pearson(hits[m], replicates)
        row.update({f"{m}_coverage": hits[m] / replicates, f"{m}_mc_lo": lo, f"{m}_mc_hi": hi,
                    f"{m}_width": width[m]})
    return row


def markdown(df: pd.DataFrame, seconds: float, args) -> str:
    lines = [f"Nominal 95%; n = {args.seeds} seeds per experiment, {args.replicates} simulated experiments per "
             f"row, {args.resamples} bootstrap resamples; in brackets the exact 95% interval of the measured "
             f"coverage (Monte Carlo error). Mean interval width after the slash. "
             f"`python analysis/ci_coverage.py --replicates {args.replicates} --seeds {args.seeds} "
             f"--resamples {args.resamples}`: {seconds:.0f} s wall time.", "",
             "| per-seed shares | BCa (evosim.stats) | percentile bootstrap (schema.bootstrap_interval) | t interval |",
             "| --- | --- | --- | --- |"]
    for _, r in df.iterrows():
        cells = [f"{r[f'{m}_coverage']:.3f} [{r[f'{m}_mc_lo']:.3f}, {r[f'{m}_mc_hi']:.3f}] / {r[f'{m}_width']:.3f}"
                 for m in METHODS]
        lines.append(f"| {r['seeds_distribution']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--resamples", type=int, default=9999)
    ap.add_argument("--out", type=Path, default=Path("analysis/out"))
    ap.add_argument("--doc", type=Path, default=None)
    args = ap.parse_args(argv)
    t0 = time.time()
    df = pd.DataFrame([simulate(k, args.replicates, args.seeds, args.resamples) for k in SCENARIOS])
    seconds = time.time() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "coverage.csv", index=False)
    md = markdown(df, seconds, args)
    print(md)
    if args.doc is not None:
        text = args.doc.read_text()
        if BEGIN not in text or END not in text:
            print(f"ci_coverage: {args.doc} has no {BEGIN} ... {END} block", file=sys.stderr)
            return 2
        head, rest = text.split(BEGIN, 1)
        args.doc.write_text(head + BEGIN + "\n" + md + "\n" + END + rest.split(END, 1)[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
