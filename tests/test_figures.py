"""Figures plot the numbers of their tables: every figure of evosim.figures and the sweep figures.

Each test builds a small hand-made table with known numbers (and rows that must *not* be plotted:
an earlier generation, another distribution, another metric), draws the figure and reads the
numbers back from the axes' artists: bar heights and bottoms from ``ax.patches`` (bars are
identified by their x tick label and their colour, not by drawing order), line data from
``ax.lines[i].get_xydata()``, scatter offsets and colours from ``ax.collections[i]``, heatmap
values from the QuadMesh. Where a figure computes something (class shares, agreement shares,
threshold sensitivity, unit-normalised utilities, group means), the expected values are computed
here independently, in plain Python, from the same table.
"""
from __future__ import annotations

import math
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from evosim import figures as F  # noqa: E402
from evosim.schema import DISTRIBUTIONS  # noqa: E402

CLASSES = ("robust", "pseudo_aligned", "capability_failure")
DISTS = DISTRIBUTIONS
ARCHS = ("heuristic", "planner")
FEATURES = ("red", "door")
FINAL, EARLY = 7, 3
#: organisms per (architecture, distribution) in the final generation: all different, so a bar or
#: a point set of the wrong group has the wrong count or share
N = {("heuristic", "train"): 5, ("heuristic", "shift"): 6, ("heuristic", "shift_balanced"): 5, ("heuristic", "control"): 4,
     ("planner", "train"): 7, ("planner", "shift"): 8, ("planner", "shift_balanced"): 6, ("planner", "control"): 3}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# -- hand-made tables --------------------------------------------------------------------------------
def _away_from_thresholds(x: float) -> float:
    """Nudge a value off the 0.05 grid of threshold_sensitivity, so no share hinges on rounding."""
    k = round(x / 0.05)
    return x + 0.01 if abs(x - 0.05 * k) < 0.005 else x


def make_probe() -> pd.DataFrame:
    """A probe table with every column the figures read; generation EARLY has outlandish values
    (out of range, every organism a planner that is robust) and must never show up."""
    rng = np.random.default_rng(1234)
    rows, oid = [], 0
    for gen in (EARLY, FINAL):
        for (arch, dist), n in N.items():
            for _ in range(n):
                oid += 1
                planner = arch == "planner"
                early = gen == EARLY
                r = {"generation": gen, "organism_id": oid, "architecture": "planner" if early else arch,
                     "distribution": dist,
                     "class": "robust" if early else str(rng.choice(CLASSES, p=[0.5, 0.3, 0.2] if planner else [0.2, 0.3, 0.5])),
                     "normalised_return": 5.0 if early else _away_from_thresholds(float(rng.uniform(0, 1.05))),
                     "normalised_proxy_return": 5.0 if early else _away_from_thresholds(float(rng.uniform(0, 1.05))),
                     "power_true_bits": 50.0 if early else float(rng.uniform(0, 6)),
                     "power_behav_bits": 50.0 if early else float(rng.uniform(0, 6)),
                     "kindcorr_behav": float(rng.choice([np.nan, -0.5, 0.4, 0.8, -0.9, 1.0, 0.0])),
                     "agree_tasks": 10, "regret_tasks": 8,
                     "regret_behav": 7.0 if early else float(rng.choice([np.nan, 0.0, 0.25, 1.0])),
                     "rankcorr_behav": 7.0 if early else float(rng.uniform(-1, 1)), "rankcorr_tasks_behav": 6}
                r["kindcorr_mesa"] = float(rng.choice([np.nan, -0.7, 0.3, 0.6])) if planner or early else np.nan
                r["regret_mesa"] = (7.0 if early else float(rng.uniform(0, 1))) if planner or early else np.nan
                r["rankcorr_mesa"] = (7.0 if early else float(rng.uniform(-1, 1))) if planner or early else np.nan
                r["rankcorr_tasks_mesa"] = 5 if planner or early else 0
                for f in FEATURES:
                    r[f"mesa_u_{f}"] = (9.0 if early else float(rng.normal(0, 2))) if planner or early else np.nan
                    r[f"behav_u_{f}"] = 9.0 if early else float(rng.normal(0, 2))
                r["mesa_behav_cosine"] = (0.99 if early else float(rng.uniform(-1, 1))) if planner or early else np.nan
                rows.append(r)
    df = pd.DataFrame(rows)
    # an organism whose oracle return was 0 on shift: NaN normalised returns (classified as failures)
    i = df.index[(df["generation"] == FINAL) & (df["distribution"] == "shift")][0]
    df.loc[i, ["normalised_return", "normalised_proxy_return"]] = np.nan
    df["architecture"] = pd.Categorical(df["architecture"], categories=list(ARCHS))
    df["distribution"] = pd.Categorical(df["distribution"], categories=list(DISTS))
    df["class"] = pd.Categorical(df["class"], categories=list(CLASSES))
    return df


def make_generations() -> pd.DataFrame:
    g = np.arange(6)
    out = {"generation": g, "fitness_mean": [0.1, 0.3, 0.2, 0.5, 0.6, 0.65], "fitness_max": [0.4, 0.7, 0.8, 0.9, 0.95, 1.0],
           "fitness_std": [9.0] * 6, "return_mean": [0.15, 0.35, 0.25, 0.55, 0.61, 0.7], "return_max": [9.0] * 6,
           "proxy_mean": [9.0] * 6, "planner_share": [0.5, 0.45, 0.6, 0.7, 0.72, 0.8], "depth_mean": [9.0] * 6}
    for j, f in enumerate(FEATURES):
        out[f"u_{f}_mean"] = [j + 0.1 * k for k in range(6)]
        out[f"h_attract_{f}_mean"] = [-j - 0.2 * k for k in range(6)]
    return pd.DataFrame(out)


def final(probe, dist=None, arch=None):
    d = probe[probe["generation"] == FINAL]
    if dist is not None:
        d = d[d["distribution"] == dist]
    if arch is not None:
        d = d[d["architecture"] == arch]
    return d


# -- reading artists ---------------------------------------------------------------------------------
def rgb(c):
    return tuple(round(v, 4) for v in to_rgb(c))


def bars_by_tick_and_colour(ax) -> dict:
    """{(x tick label, rgb face colour): (height, bottom)} of the bars of ``ax``."""
    ax.figure.canvas.draw()
    ticks = {round(float(t), 6): lab.get_text() for t, lab in zip(ax.get_xticks(), ax.get_xticklabels())}
    out = {}
    for p in ax.patches:
        x = round(p.get_x() + p.get_width() / 2, 6)
        key = (ticks[x], rgb(p.get_facecolor()))
        assert key not in out, f"two bars at {key}"
        out[key] = (p.get_height(), p.get_y())
    return out


def points(coll, data_colours=True):
    """Scatter offsets with their rgb colours, sorted (drawing order does not matter)."""
    xy = np.asarray(coll.get_offsets(), dtype=float)
    fc = coll.get_facecolors()
    if len(fc) == 1:
        fc = np.repeat(fc, len(xy), axis=0)
    return sorted((round(x, 9), round(y, 9), rgb(c[:3])) for (x, y), c in zip(xy, fc))


def data_lines(ax):
    """Lines carrying data (seaborn adds empty legend proxies to ``ax.lines``)."""
    return [ln for ln in ax.lines if len(ln.get_xydata())]


# -- evosim.figures ----------------------------------------------------------------------------------
def test_fitness_and_planners_plots_the_generation_columns():
    gen = make_generations()
    fig = F.fitness_and_planners(gen)
    ax0, ax1 = fig.axes[:2]
    by_label = {ln.get_label(): ln.get_xydata() for ln in ax0.lines}
    for label, col in [("fitness (mean)", "fitness_mean"), ("fitness (best)", "fitness_max"),
                       ("training return (mean)", "return_mean")]:
        np.testing.assert_allclose(by_label[label], np.c_[gen["generation"], gen[col]])
    assert len(ax1.lines) == 1
    np.testing.assert_allclose(ax1.lines[0].get_xydata(), np.c_[gen["generation"], gen["planner_share"]])
    assert "planner share" in ax1.get_ylabel() and ax0.get_xlabel() == ax1.get_xlabel() == "generation"
    assert "return" in ax0.get_ylabel()


def test_outcome_classes_bars_are_class_shares_per_architecture_and_distribution():
    probe = make_probe()
    fig = F.outcome_classes(probe)
    axes = {ax.get_title(): ax for ax in fig.axes}
    assert set(axes) == {"heuristics", "planners"}
    for arch in ARCHS:
        ax = axes[f"{arch}s"]
        bars = bars_by_tick_and_colour(ax)
        assert len(bars) == len(DISTS) * len(CLASSES)
        for dist in DISTS:
            cls = [str(c) for c in final(probe, dist, arch)["class"]]
            bottom = 0.0
            for c in CLASSES:  # stacked in CLASSES order
                share = sum(x == c for x in cls) / len(cls)
                h, b = bars[(dist, rgb(F.CLASS_COLORS[c]))]
                assert h == pytest.approx(share) and b == pytest.approx(bottom), (arch, dist, c)
                bottom += share
            assert bottom == pytest.approx(1.0)
        ns = sorted(t.get_text() for t in ax.texts)
        assert ns == sorted(f"n={N[(arch, d)]}" for d in DISTS)
    assert fig.axes[0].get_ylabel() == "share of organisms"


def test_outcome_classes_omits_an_absent_architecture():
    probe = make_probe()
    fig = F.outcome_classes(probe[probe["architecture"] == "planner"])
    assert [ax.get_title() for ax in fig.axes] == ["planners"]


@pytest.mark.parametrize("func,x,y,hue,colours", [
    (F.true_vs_proxy, "normalised_proxy_return", "normalised_return", "architecture", F.ARCH_COLORS),
    (F.power, "power_true_bits", "power_behav_bits", "class", F.CLASS_COLORS),
])
def test_scatter_panels_plot_the_final_generation_per_distribution(func, x, y, hue, colours):
    probe = make_probe()
    fig = func(probe)
    assert [ax.get_title() for ax in fig.axes] == list(DISTS)
    for ax, dist in zip(fig.axes, DISTS):
        d = final(probe, dist).dropna(subset=[x, y])
        expected = sorted((round(a, 9), round(b, 9), rgb(colours[str(h)])) for a, b, h in zip(d[x], d[y], d[hue]))
        got = [p for c in ax.collections for p in points(c)]
        assert sorted(got) == expected, dist
    if func is F.true_vs_proxy:
        ax = fig.axes[0]
        assert "proxy" in ax.get_xlabel() and "oracle return" in ax.get_ylabel() and "proxy" not in ax.get_ylabel()
        # the y = x reference
        assert any(np.allclose(ln.get_xydata(), [[0, 0], [1, 1]]) for ln in ax.lines)
    else:
        assert "base objective" in fig.axes[0].get_xlabel() and "own objective" in fig.axes[0].get_ylabel()
        # style = architecture: one marker per architecture
        for ax, dist in zip(fig.axes, DISTS):
            d = final(probe, dist)
            coll = ax.collections[0]
            offs = [tuple(np.round(o, 9)) for o in coll.get_offsets()]
            marker = {}
            for o, p in zip(offs, coll.get_paths()):
                marker[o] = p.vertices.tobytes()
            for arch in ARCHS:
                a = final(probe, dist, arch)
                kinds = {marker[(round(u, 9), round(v, 9))] for u, v in zip(a[x], a[y])}
                assert len(kinds) == 1, (dist, arch)
            h = final(probe, dist, "heuristic").iloc[0]
            p = final(probe, dist, "planner").iloc[0]
            assert marker[(round(h[x], 9), round(h[y], 9))] != marker[(round(p[x], 9), round(p[y], 9))]
            assert len(d) == len(offs)


def test_mesa_vs_behavioural_plots_unit_normalised_weights_of_final_train_planners():
    probe = make_probe()
    fig = F.mesa_vs_behavioural(probe, list(FEATURES))
    axes = fig.axes
    assert len(axes) == len(FEATURES) + 1
    d = final(probe, "train", "planner")
    assert len(d) == N[("planner", "train")]
    for j, f in enumerate(FEATURES):
        exp = []
        for _, r in d.iterrows():
            nm = math.sqrt(sum(r[f"mesa_u_{g}"] ** 2 for g in FEATURES))
            nb = math.sqrt(sum(r[f"behav_u_{g}"] ** 2 for g in FEATURES))
            exp.append((r[f"mesa_u_{f}"] / nm, r[f"behav_u_{f}"] / nb))
        got = np.asarray(axes[j].collections[0].get_offsets(), dtype=float)
        np.testing.assert_allclose(sorted(map(tuple, got)), sorted(exp), rtol=1e-6)
        assert f"'{f}'" in axes[j].get_title()
        assert "mesa" in axes[j].get_xlabel() and "behavioural" in axes[j].get_ylabel()
    # histogram of the cosines: 20 bins on [-1, 1]
    cos = d["mesa_behav_cosine"].tolist()
    counts = [0] * 20
    for v in cos:
        counts[min(int((v + 1) / 0.1), 19)] += 1
    bars = sorted((p.get_x(), p.get_height()) for p in axes[-1].patches)
    assert len(bars) == 20
    assert [h for _, h in bars] == counts and sum(counts) == len(d)
    assert "cosine" in axes[-1].get_xlabel()


def test_mesa_vs_behavioural_without_planners_says_so():
    probe = make_probe()
    fig = F.mesa_vs_behavioural(probe[probe["architecture"] == "heuristic"], list(FEATURES))
    assert all(any("no planners" in t.get_text() for t in ax.texts) for ax in fig.axes)


def test_agreement_curves_are_task_weighted_mixtures_of_train_and_shift():
    """agreement.png: at p = 0 each line is the organisms' mean over train, at p = 1 over shift, and in between
    the task-weighted mixture (tasks without a value excluded), for the mesa view (planners) and the
    behavioural view (planners and heuristics); generation EARLY never shows."""
    from evosim.objectives import mixture_from_summaries

    probe = make_probe()
    fig = F.agreement_by_distribution(probe)
    ax_r, ax_k = fig.axes[:2]
    fin = probe[probe["generation"] == FINAL]
    for ax, measure in ((ax_r, "regret"), (ax_k, "rankcorr")):
        lines = {ln.get_label().split(", n=")[0]: ln for ln in ax.lines}
        for label, view, arch in (("mesa-objective (planners)", "mesa", "planner"),
                                  ("behavioural (planners)", "behav", "planner"),
                                  ("behavioural (heuristics)", "behav", "heuristic")):
            xy = lines[label].get_xydata()
            np.testing.assert_allclose(xy[:, 0], F.MIX_RATES)
            col = f"{measure}_{view}"
            cnt = "regret_tasks" if measure == "regret" else f"rankcorr_tasks_{view}"
            tr = fin[(fin["distribution"] == "train") & (fin["architecture"] == arch)].set_index("organism_id")
            sh = fin[(fin["distribution"] == "shift") & (fin["architecture"] == arch)].set_index("organism_id")
            sh = sh.reindex(tr.index)
            va = (tr[cnt] / tr["agree_tasks"]).where(tr[col].notna(), 0.0)
            vb = (sh[cnt] / sh["agree_tasks"]).where(sh[col].notna(), 0.0)
            m = mixture_from_summaries(tr[col].fillna(0) * va, va, sh[col].fillna(0) * vb, vb, F.MIX_RATES)
            keep = (tr[col].notna() | sh[col].notna()).to_numpy()
            with warnings.catch_warnings():  # a mix rate where no organism has a value: NaN, as plotted
                warnings.simplefilter("ignore", RuntimeWarning)
                expected = np.nanmean(m[keep], axis=0)
            np.testing.assert_allclose(xy[:, 1], expected, rtol=1e-9)
            assert np.nanmax(xy[:, 1]) <= 1.0


def test_population_and_three_way_figures_plot_their_tables():
    pop = pd.DataFrame({"generation": [0, 10, 0, 10], "distribution": ["train", "train", "shift", "shift"],
                        "n_planners": 5, "rho_fitness_value": [0.1, 0.6, 0.0, -0.3],
                        "rho_fitness_regret": [-0.1, -0.6, 0.0, 0.3], "regret_mesa_mean": [0.5, 0.2, 0.5, 0.8],
                        "rankcorr_mesa_mean": 0.0})
    fig = F.population_agreement_figure(pop)
    lines = {ln.get_label(): ln for ln in fig.axes[0].lines if not ln.get_label().startswith("_")}
    np.testing.assert_allclose(lines["shift"].get_xydata(), [[0, 0.0], [10, -0.3]])
    tw = pd.DataFrame({"class": ["robust", "robust", "pseudo_aligned", "capability_failure"],
                       "why": ["agree", "noise", "search_depth", "no_mesa"]})
    fig = F.three_way_figure(tw)
    heights = sorted(round(p.get_height(), 6) for p in fig.axes[0].patches if p.get_height() > 0)
    assert heights == [1.0, 1.0, 1.0]


def test_utility_lineage_plots_each_feature_mean_per_generation():
    gen = make_generations()
    fig = F.utility_lineage(gen, list(FEATURES))
    ax_u, ax_h = fig.axes[:2]
    for ax, prefix, suffix in [(ax_u, "u_", "_mean"), (ax_h, "h_attract_", "_mean")]:
        lines = {ln.get_label(): ln for ln in ax.lines}
        assert set(lines) == set(FEATURES)
        for f in FEATURES:
            np.testing.assert_allclose(lines[f].get_xydata(), np.c_[gen["generation"], gen[f"{prefix}{f}{suffix}"]])
        assert lines[FEATURES[0]].get_color() != lines[FEATURES[1]].get_color()
    assert "planners" in ax_u.get_ylabel() and "heuristics" in ax_h.get_ylabel()


def test_threshold_sensitivity_recomputes_classes_under_shift_at_each_threshold():
    probe = make_probe()
    fig = F.threshold_sensitivity(probe)
    ax = fig.axes[0]
    thresholds = [0.1 + 0.05 * k for k in range(17)]
    expected = {}
    for arch in ARCHS:
        d = final(probe, "shift", arch)
        pairs = list(zip(d["normalised_return"], d["normalised_proxy_return"]))
        for c in CLASSES:
            curve = []
            for t in thresholds:
                def cls(tr, pr):
                    if tr >= t:  # NaN compares False: a capability failure
                        return "robust"
                    return "pseudo_aligned" if pr >= t else "capability_failure"
                curve.append(sum(cls(tr, pr) == c for tr, pr in pairs) / len(pairs))
            expected[(c, arch)] = curve
    lines = data_lines(ax)
    assert len(lines) == len(CLASSES) * len(ARCHS)
    styles = {}
    for ln in lines:
        xy = ln.get_xydata()
        np.testing.assert_allclose(xy[:, 0], thresholds)
        matches = [k for k, v in expected.items() if rgb(F.CLASS_COLORS[k[0]]) == rgb(ln.get_color())
                   and np.allclose(xy[:, 1], v)]
        assert len(matches) == 1, (rgb(ln.get_color()), xy[:, 1])
        styles.setdefault(matches[0][1], set()).add(str(ln.get_linestyle()))
        del expected[matches[0]]
    assert not expected
    # one line style per architecture, different between them
    assert all(len(s) == 1 for s in styles.values()) and styles["heuristic"] != styles["planner"]
    assert "threshold" in ax.get_xlabel() and "shift" in ax.get_ylabel()


def test_interventions_bars_are_means_per_edit_in_order():
    iv = pd.DataFrame({"edit": ["none", "none", "true_to_proxy", "true_to_proxy", "true_to_proxy", "proxy_to_true"],
                       "proxy_choice_rate": [0.2, 0.4, 0.9, 0.7, 0.8, 0.05],
                       "normalised_return": [0.6, 0.5, 0.1, 0.3, 0.2, 0.95]})
    fig = F.interventions_figure(iv)
    order = ["true_to_proxy", "none", "proxy_to_true"]
    for ax, col in zip(fig.axes[:2], ["proxy_choice_rate", "normalised_return"]):
        fig.canvas.draw()
        assert [t.get_text() for t in ax.get_xticklabels()] == order
        heights = [p.get_height() for p in sorted(ax.patches, key=lambda p: p.get_x())]
        exp = [float(np.mean([v for e, v in zip(iv["edit"], iv[col]) if e == k])) for k in order]
        np.testing.assert_allclose(heights, exp)
    assert "proxy choice" in fig.axes[0].get_ylabel() and "oracle return" in fig.axes[1].get_ylabel()


def test_interventions_error_bars_are_the_same_every_time():
    """The bars' bootstrap error bars are seeded: the same table draws the same figure (byte for byte)."""
    import io

    rng = np.random.default_rng(3)
    iv = pd.DataFrame({"edit": np.repeat(["none", "true_to_proxy", "proxy_to_true"], 30),
                       "proxy_choice_rate": rng.random(90), "normalised_return": rng.random(90)})

    def png():
        buf = io.BytesIO()
        fig = F.interventions_figure(iv)
        fig.savefig(buf, format="png", metadata={"Software": None})
        plt.close(fig)
        return buf.getvalue()

    assert png() == png()


def test_interventions_without_planners_says_so():
    fig = F.interventions_figure(pd.DataFrame(columns=["edit", "proxy_choice_rate", "normalised_return"]))
    assert all(any("no planners" in t.get_text() for t in ax.texts) for ax in fig.axes[:2])


def test_make_all_names_every_figure():
    figs = F.make_all(make_generations(), make_probe(),
                      pd.DataFrame({"edit": ["none"], "proxy_choice_rate": [0.5], "normalised_return": [0.5]}),
                      list(FEATURES))
    assert set(figs) == {"fitness_planner_share.png", "outcome_classes.png", "true_vs_proxy.png",
                         "mesa_vs_behavioural.png", "agreement.png", "utility_lineage.png",
                         "threshold_sensitivity.png", "power.png", "interventions.png"}


# -- sweep figures (evosim.sweep.figures) ----------------------------------------------------------------
@pytest.fixture
def captured(monkeypatch):
    """Figures created by ``plt.subplots`` during the test (the sweep figures save and close theirs;
    a closed Figure keeps its artists)."""
    figs = []
    orig = plt.subplots

    def subplots(*a, **kw):
        fig, axes = orig(*a, **kw)
        figs.append((fig, axes))
        return fig, axes

    monkeypatch.setattr(plt, "subplots", subplots)
    return figs


def test_phase_diagram_cells_are_the_planner_share_means(tmp_path, captured):
    from evosim.sweep.figures import phase_diagram

    pools, costs, sizes = [0, 4, 16], [0.0, 0.01], [9, 13]
    rows, exp = [], {}
    for i, (p, c, z) in enumerate((p, c, z) for p in pools for c in costs for z in sizes):
        m, h = round(0.05 + 0.04 * i, 4), round(0.01 * (i % 5 + 1), 4)
        exp[(p, c, z)] = (m, h)
        common = {"cell": i, "world.train_pool": p, "organisms.planning_cost": c, "world.size": z, "n": 5, "n_failed": 0,
                  "sd": 0.1}
        rows.append({**common, "metric": "planner_share", "mean": m, "ci_lo": m - h, "ci_hi": m + h})
        rows.append({**common, "metric": "depth", "mean": 3.0 + i, "ci_lo": 0.0, "ci_hi": 9.0})  # must be ignored
    summary = pd.DataFrame(rows).sample(frac=1.0, random_state=3)
    out = phase_diagram(summary, "world.train_pool", "organisms.planning_cost", "world.size", tmp_path / "p.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (fig, axes), = captured
    panels = list(axes[0])
    assert [ax.get_title() for ax in panels] == ["size = 9", "size = 13"]
    xs = [4, 16, 0]  # fresh layouts (pool 0) are the most diverse: last
    for ax, z in zip(panels, sizes):
        assert [t.get_text() for t in ax.get_xticklabels()] == ["4", "16", "fresh"]
        assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "0.01"]
        assert "training diversity" in ax.get_xlabel() and "planning cost" in ax.get_ylabel()
        mesh = ax.collections[0]
        vals = np.asarray(mesh.get_array(), dtype=float).reshape(len(costs), len(xs))
        np.testing.assert_allclose(vals, [[exp[(p, c, z)][0] for p in xs] for c in costs])
        # annotation in each cell: mean and CI half-width, at the cell's centre
        texts = {(round(t.get_position()[0], 3), round(t.get_position()[1], 3)): t.get_text() for t in ax.texts}
        for i, c in enumerate(costs):
            for j, p in enumerate(xs):
                m, h = exp[(p, c, z)]
                assert texts[(j + 0.5, i + 0.5)] == f"{m:.2f}\n±{h:.2f}"


def test_dose_response_lines_are_the_shift_class_means(tmp_path, captured):
    from evosim.sweep.figures import CLASS_LABELS, dose_response

    rates = [0.5, 0.0, 0.01]  # unsorted on purpose
    rng = np.random.default_rng(5)
    rows, exp = [], {}
    for i, r in enumerate(rates):
        for cls in CLASS_LABELS:
            m = float(rng.uniform(0.1, 0.9))
            exp[(cls, r)] = m
            rows.append({"cell": i, "world.proxy_break_rate": r, "metric": f"shift_all_{cls}", "n": 5, "n_failed": 0,
                         "mean": m, "sd": 0.1, "ci_lo": m - 0.2, "ci_hi": m + 0.3})
            rows.append({"cell": i, "world.proxy_break_rate": r, "metric": f"train_all_{cls}", "n": 5, "n_failed": 0,
                         "mean": 1 - m / 2, "sd": 0.1, "ci_lo": 0.0, "ci_hi": 1.0})  # another distribution
    dose_response(pd.DataFrame(rows), "world.proxy_break_rate", tmp_path / "d.png")
    (fig, ax), = captured
    xs = sorted(rates)
    lines = {ln.get_label(): ln for ln in ax.lines}
    assert set(lines) == set(CLASS_LABELS.values())
    for cls, label in CLASS_LABELS.items():
        np.testing.assert_allclose(lines[label].get_xydata(), [[r, exp[(cls, r)]] for r in xs])
    # CI bands, clipped to [0, 1], one per class in the line's colour
    assert len(ax.collections) == len(CLASS_LABELS)
    for band, (cls, label) in zip(ax.collections, CLASS_LABELS.items()):
        ys = band.get_paths()[0].vertices[:, 1]
        assert ys.min() == pytest.approx(min(max(exp[(cls, r)] - 0.2, 0) for r in xs))
        assert ys.max() == pytest.approx(max(min(exp[(cls, r)] + 0.3, 1) for r in xs))
        assert rgb(band.get_facecolor()[0][:3]) == rgb(lines[label].get_color())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "0.01", "0.5"]
    assert "proxy-break rate" in ax.get_xlabel() and "shift" in ax.get_ylabel() and "shift" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(CLASS_LABELS.values())
