"""The vocabulary of evosim's tables, in one place: what every column, outcome class,
distribution and architecture is called, and the statistics every table and figure shares.

Owns
    ``RUN_COLUMNS``      columns of a run's tables (generations, organisms, genomes)
    ``PROBE_COLUMNS``    columns of the report's tables (probe, interventions)
    ``COLUMNS``          both together, by table name
    ``SWEEP_COLUMNS``, ``SUMMARY_COLUMNS``  columns of a sweep's sweep.parquet and summary.parquet
    ``CLASSES``          outcome classes under shift (robust, pseudo_aligned, capability_failure)
    ``DISTRIBUTIONS``    layout distributions of every world (train, shift, shift_balanced, control)
    ``CLASS_COLOURS``    one colour per outcome class, shared by the figures and the viewer
    ``ARCHITECTURES``    organism architecture names, in code order (from ``evosim.architectures``)
    ``ARCH_GROUPS``      ``("all", *ARCHITECTURES)``: the architecture groups tables report shares for
    ``class_shares``     the one computation of outcome-class shares from a probe table
    ``t_interval``, ``wilson_interval``, ``bootstrap_interval``  confidence intervals

Nothing here imports the rest of evosim except the architecture registry (``evosim.architectures``,
which imports only ``evosim.constants`` and ``evosim.genome``), so every module can import it.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pandas as pd

from evosim import architectures as _registry

#: outcome classes of an organism under a distribution (evosim.objectives.classify)
CLASSES = ("robust", "pseudo_aligned", "capability_failure")
#: one colour per outcome class (seaborn colorblind green, vermillion, grey), in figures and the viewer alike;
#: architecture colours are in the registry (``evosim.architectures.COLOURS``)
CLASS_COLOURS = {"robust": "#029e73", "pseudo_aligned": "#d55e00", "capability_failure": "#949494"}
assert tuple(CLASS_COLOURS) == CLASSES
#: layout distributions of every world; held-out probe layouts come from each. ``shift_balanced`` (the
#: shift with as many proxy as true targets, paired at equal path distance from the start) is the headline
#: distribution for what organisms pursue; ``shift`` stays for continuity
DISTRIBUTIONS = ("train", "shift", "shift_balanced", "control")
#: organism architecture names, indexed by their code (``evosim.architectures.ARCHITECTURES``)
ARCHITECTURES = _registry.NAMES
#: architecture groups of per-architecture share tables: the whole population, then each architecture
ARCH_GROUPS = ("all", *ARCHITECTURES)


def architectures(with_memoriser: bool = True, with_network: bool = True) -> tuple[str, ...]:
    """Categories of a run's ``architecture`` columns: every architecture, less the memoriser unless
    memorisers are part of the experiment (``evosim.config.memorisers_enabled``) and the network unless
    networks are (``evosim.config.networks_enabled``), so the tables of an experiment without them are
    written exactly as before they existed."""
    left_out = {_registry.MEMORISER.name} if not with_memoriser else set()
    if not with_network:
        left_out.add(_registry.NETWORK.name)
    return tuple(a for a in ARCHITECTURES if a not in left_out)

# -- table columns ---------------------------------------------------------------------------
#: generation columns of the selection differential on the cue preference (``evosim.model.selection_stats``);
#: runs written before them read with them NaN (``evosim.store.reader.load_run``)
SELECTION_COLUMNS = ("selection_differential", "selection_differential_planner", "selection_differential_heuristic",
                     "trait_mean_planner", "trait_mean_heuristic")

#: documented columns of a run's tables (generations.parquet, organisms.parquet, genomes.parquet)
RUN_COLUMNS = {
    "generations": {
        "generation": "generation index, from 0",
        "fitness_mean": "mean fitness (training return minus planning cost x work) over the population",
        "fitness_max": "best fitness",
        "fitness_std": "standard deviation of fitness",
        "return_mean": "mean training return (base objective) per episode",
        "return_max": "best mean training return",
        "proxy_mean": "mean proxy return per episode (what the proxy would have paid)",
        "steps_mean": "mean episode length in steps",
        "plans_mean": "mean plans evaluated per episode (0 for heuristics)",
        "work_mean": "mean search work per episode, the cost of computation: for planners objects scored + plans "
                     "evaluated, for networks hidden-state cells updated (the cells the readout depends on, summed "
                     "over iterations and steps); 0 for heuristics and memorisers",
        "planner_share": "fraction of organisms expressing the planner block",
        "planner_fitness_mean": "mean fitness of planners (NaN if none)",
        "heuristic_fitness_mean": "mean fitness of heuristics (NaN if none)",
        "depth_mean": "mean expressed search depth of planners",
        "u_<feature>_mean": "mean planner utility weight on a feature channel (the mesa-objective)",
        "h_attract_<feature>_mean": "mean heuristic attraction weight on a feature channel",
        "selection_differential": "selection_differential_planner where the generation has at least 2 planners, "
                                  "else selection_differential_heuristic (NaN if neither is defined)",
        "selection_differential_planner": "standardized selection differential on the planners' preference trait z = "
                                          "u_<proxy> - u_<true> (world.proxy_feature, world.true_feature): "
                                          "cov(z, (w - mean w) / sd w) over the planners, w their fitness, population "
                                          "moments; z units per fitness SD. Standardized rather than Price's "
                                          "cov(z, w / mean w) because fitness can be zero or negative (planning cost), "
                                          "where w / mean w is undefined or flips sign; the standardized form is "
                                          "unchanged by a shift of fitness. NaN with fewer than 2 planners, 0 when "
                                          "their fitness does not vary. It measures the fitness-trait association "
                                          "this generation, whatever the parent choice (evolution.neutral)",
        "selection_differential_heuristic": "the same over the heuristics, with z = h_attract_<proxy> - h_attract_<true>",
        "trait_mean_planner": "mean preference trait u_<proxy> - u_<true> of planners (NaN if none): its drift over "
                              "generations",
        "trait_mean_heuristic": "mean preference trait h_attract_<proxy> - h_attract_<true> of heuristics (NaN if none)",
        "memoriser_share": "fraction of organisms expressing the memoriser block (only in runs with memorisers, "
                           "min_depth 0 or a description cost: ``evosim.model.conditions_columns``)",
        "heuristic_share": "fraction of heuristics (same runs as memoriser_share)",
        "memoriser_fitness_mean": "mean fitness of memorisers (NaN if none; same runs as memoriser_share)",
        "depth_<d>": "fraction of planners expressing search depth d, d = 0..max_depth (NaN without planners; same "
                     "runs as memoriser_share): the evolved amount of search",
        "description_mean": "mean expressed genes per organism (what organisms.description_cost charges; same runs)",
        "network_share": "fraction of organisms expressing the network block (only in runs with networks: "
                         "``evosim.config.networks_enabled``)",
        "network_fitness_mean": "mean fitness of networks (NaN if none; same runs as network_share)",
        "iterations_mean": "mean expressed iterations per step of networks (NaN if none; same runs as network_share): "
                           "the evolved amount of internal computation",
    },
    "organisms": {
        "generation": "generation index",
        "organism_id": "run-wide id (generation * population + row)",
        "parent_a": "id of the first parent (-1: initial population)",
        "parent_b": "id of the second parent (-1: elite copy or initial)",
        "architecture": "heuristic, planner, memoriser or network (categories: memoriser only in runs with memorisers, "
                        "network only in runs with networks)",
        "fitness": "training return minus planning cost x work",
        "return_mean": "mean training return per episode",
        "proxy_mean": "mean proxy return per episode",
        "steps_mean": "mean episode length",
        "plans_mean": "mean plans evaluated per episode",
        "work_mean": "mean search work per episode (planners: objects scored + plans evaluated; networks: hidden-state "
                     "cells updated; 0 for heuristics and memorisers): fitness = return_mean - planning_cost x work_mean",
        "depth": "expressed search depth (-1 for heuristics)",
        "iterations": "expressed network iterations per step (-1 for other architectures; only in runs with networks)",
    },
    "genomes": {
        "generation": "generation of the population",
        "organism_id": "run-wide id",
        "architecture": "heuristic, planner, memoriser or network (categories: memoriser only in runs with memorisers, "
                        "network only in runs with networks)",
        "<gene>": "one column per gene, named by evosim.genome.gene_names; the network block (n_arch, n_iterations, "
                  "the weights: only in runs with networks) follows the memoriser block; the memoriser block (m_arch, "
                  "m_step0..m_step63) follows the core genes; written every checkpoint_every generations, or every "
                  "generation with evolution.keep_all_genomes",
    },
}

#: documented columns of probe.parquet (one row per organism per distribution) and interventions.parquet
PROBE_COLUMNS = {
    "probe": {
        "generation": "generation of the probed population",
        "organism_id": "run-wide organism id (as in organisms.parquet)",
        "architecture": "heuristic, planner, memoriser or network (categories: memoriser only in runs with memorisers, "
                        "network only in runs with networks)",
        "depth": "expressed planner search depth (-1 for heuristics)",
        "distribution": "held-out layout distribution: train, shift, shift_balanced (the shift with as many proxy as "
                        "true targets, paired at equal path distance: the headline distribution for what organisms "
                        "pursue) or control",
        "episodes": "held-out episodes played (same layouts for every organism)",
        "true_return": "mean base return per episode",
        "oracle_return": "mean best achievable base return per episode (exact oracle, same layouts)",
        "normalised_return": "(true_return - chance_return) / (matched_return - chance_return) (means over the same "
                             "layouts): 0 = no better than chance (the better of the random and the idle policy), "
                             "1 = as good as the perception-matched reference; can exceed 1 (organisms can beat the "
                             "reference) and go below 0; NaN where the reference does not beat chance",
        "proxy_return": "mean proxy return per episode (red things, keys, sweetness)",
        "proxy_oracle_return": "mean best achievable proxy return per episode",
        "normalised_proxy_return": "(proxy_return - chance_proxy_return) / (proxy_matched_return - chance_proxy_return)",
        "steps_mean": "mean episode length in steps",
        "path_efficiency": "sum of shortest-path lengths through the objects reached, in the order reached, over "
                           "steps taken until the last of them (1 = straight there; NaN if nothing reached)",
        "true_target_reached": "mean objects per episode of the world's true-target kinds reached (doors, chests, fruit)",
        "proxy_target_reached": "mean objects per episode of the world's proxy-target kinds reached (red balls, keys, candy)",
        "reach_<kind>": "mean objects of that kind reached per episode",
        "first_<kind>": "fraction of episodes whose first object reached is of that kind",
        "proxy_choice_rate": "shift_balanced rows (the headline): fraction of the probe's balanced layouts whose first "
                             "object of world.balanced_pair reached is the proxy kind (red_ball vs blue_door, key vs "
                             "chest, candy vs sour_fruit, paired at equal path distance), among those where one was "
                             "reached; shift rows: the same on decision-point layouts (true target and proxy target "
                             "on opposite sides); NaN on train and control",
        "decision_reach_rate": "shift_balanced and shift rows: fraction of those layouts in which either target was "
                               "reached",
        "class": "outcome class against the perception-matched reference with the chance floor: robust, "
                 "pseudo_aligned or capability_failure (evosim.objectives.classify of normalised_return and "
                 "normalised_proxy_return, threshold probe.competent)",
        "keys_beyond_need": "keys_chests: keys picked up minus chests opened, mean per episode (NaN in worlds without "
                            "keys)",
        "candy_beyond_need": "ancestral_modern: sweet-but-empty items consumed per episode: eaten objects that pay "
                             "proxy but no base reward (candy; NaN in worlds without such a kind)",
        "malign": "true where true_return is below both idle_return and random_return (means over the same layouts): "
                  "pursuit that leaves the organism worse off than doing nothing and than acting at random",
        "behav_u_<feature>": "behavioural utility weight per feature channel (Boltzmann choice model fitted by "
                             "maximum likelihood to the organism's choices pooled over all distributions; "
                             "scale = inverse temperature). Uses the world's perception radii (world.radius, "
                             "a world setting known to the experimenter, identical for every organism) to mask "
                             "the features of the options; behav_est_u_<feature> infers them from behaviour",
        "behav_gamma": "distance discount of the behavioural model",
        "behav_choices": "choice events of this distribution (the fit pools all distributions)",
        "behav_fit": "fit quality on this distribution's choices: McFadden pseudo-R^2 (1 perfect, 0 chance)",
        "mesa_u_<feature>": "planner utility weight per feature channel read from the genome (NaN for heuristics)",
        "mesa_behav_cosine": "cosine between mesa and behavioural utility (NaN for heuristics)",
        "kindcorr_behav": "count-weighted rank correlation over object kinds (formerly agree): Spearman correlation "
                          "of base reward and behavioural utility . features over the objects available under this "
                          "distribution, each kind weighted by its count. Treats every feature as visible and ignores "
                          "perception, distance, dynamics and instrumental value (keys); +-1 when two kinds are present",
        "kindcorr_mesa": "the same for the mesa-objective (formerly agree_mesa; NaN for heuristics)",
        # -- agreement on tasks, as the type-signature essay constructs it (docs/objectives.md) --
        "agree_tasks": "tasks of this distribution: its held-out probe layouts, each a task whose outputs are the first "
                       "choices open at the start: none of them (explore) or head first for one of the objects "
                       "perceived there (kernels.task_values)",
        "regret_tasks": "tasks on which the base value f differs between outputs (regret is defined on these only)",
        "regret_mesa": "mean over tasks of (max f - f(choice)) / (max f - min f), choice = the output the planner's own "
                       "search picks (g = best value under its utility of what it sees, its depth, discount and world "
                       "model; kernels.mesa_values; none if nothing is worth > 0); f = undiscounted base return of the "
                       "best plan of up to organisms.max_depth visits starting with that output, true rules, visits "
                       "after world.max_steps earn nothing. 0 = always base-optimal, 1 = always base-worst; NaN for "
                       "heuristics",
        "rankcorr_mesa": "mean over tasks of the Spearman correlation of f and g over the task's outputs (tasks with < 2 "
                         "outputs or constant f or g excluded; rankcorr_tasks_mesa counts the rest); NaN for heuristics",
        "rankcorr_tasks_mesa": "tasks entering rankcorr_mesa",
        "value_mesa": "mean over tasks of f(choice) of the mesa choice: the base value of what the mesa-objective picks",
        "regret_behav": "regret_mesa with g = the behavioural model (w . visible features * behav_gamma ** distance, "
                        "none = 0): all architectures; NaN without a fit",
        "rankcorr_behav": "rankcorr_mesa with the behavioural model in place of the mesa-objective",
        "rankcorr_tasks_behav": "tasks entering rankcorr_behav",
        "value_behav": "value_mesa for the behavioural model's choice",
        "power_true_bits": "optimisation power under the base objective: -log2 of the fraction of random-policy "
                           "outcomes (same layouts) with at least the organism's return",
        "power_behav_bits": "optimisation power under the organism's own behavioural utility (sum over reached "
                            "objects of utility . features)",
        # -- perception-matched reference, omniscient classes, baselines, preferences --
        "matched_return": "mean base return per episode of the perception-matched reference: a planted aligned "
                          "planner (utility = least-squares fit of each kind's base reward on its features, exact; "
                          "depth = organisms.max_depth; gamma ~ 0.99) with the world's perception radii, on the "
                          "same layouts. A greedy planner, not a proof of optimality: organisms can beat it",
        "proxy_matched_return": "mean proxy return per episode of the proxy reference (the same planner with utility "
                                "= least-squares fit of each kind's proxy value on its features)",
        "normalised_return_omniscient": "(true_return - chance_return) / (oracle_return - chance_return): against the "
                                        "exact oracle, which has no perception limit, with the same chance floor",
        "normalised_proxy_return_omniscient": "(proxy_return - chance_proxy_return) / (proxy_oracle_return - "
                                              "chance_proxy_return)",
        "class_omniscient": "outcome class as in class, but against the oracle (normalised_*_omniscient)",
        "reference_true_target_reached": "baseline: true-target objects reached per episode by the aligned reference",
        "reference_proxy_target_reached": "baseline: proxy-target objects reached per episode by the aligned reference "
                                          "(beyond need of a planted aligned organism = this minus the previous)",
        "reference_power_true_bits": "baseline: optimisation power (power_true_bits) of the aligned reference",
        "random_return": "baseline: mean base return per episode of the random policy (probe.random_rollouts "
                         "rollouts per layout)",
        "random_proxy_return": "baseline: mean proxy return per episode of the random policy",
        "random_true_target_reached": "baseline: true-target objects reached per episode by the random policy",
        "random_proxy_target_reached": "baseline: proxy-target objects reached per episode by the random policy",
        "idle_return": "baseline: mean base return per episode of the idle policy (stands still the whole episode; "
                       "0 in every shipped world: no layout puts an object on the start cell; evosim.probe.idle_returns)",
        "idle_proxy_return": "baseline: mean proxy return per episode of the idle policy",
        "chance_return": "baseline: the chance floor, max(random_return, idle_return)",
        "chance_proxy_return": "baseline: max(random_proxy_return, idle_proxy_return)",
        "reference_oracle_ratio": "baseline: matched_return / oracle_return: how close the perception-matched "
                                  "reference comes to the omniscient oracle (docs/objectives.md)",
        "random_class": "baseline: the random policy's class (classify of its own normalised returns); "
                        "capability_failure by construction of the chance floor",
        "idle_class": "baseline: the idle policy's class, as random_class",
        "mesa_prefers_proxy": "1.0 if the planner's evolved utility weighs the world's proxy cue strictly above its "
                              "true cue (world.proxy_feature vs world.true_feature: red_door red vs door, keys_chests "
                              "key vs chest, ancestral_modern sweet vs fruity; evosim.probe.preference_features), "
                              "else 0.0; NaN for heuristics or a non-finite weight. Compares cues, not bundles: a "
                              "sweetness-only valuer prefers the proxy. Read from the genome, never from outcomes",
        "behav_prefers_proxy": "the same comparison with the behavioural utility (all architectures; NaN without a fit)",
        # -- the behavioural fit without privileged knowledge of perception --
        # behav_u_* above is fitted with the world's perception radii (world.radius: a world setting known
        # to the experimenter, identical for every organism); behav_est_* with radii inferred from behaviour.
        "behav_est_radius_<feature>": "perception radius of this channel estimated from behaviour alone, once per "
                                      "probed population (same value on every row of a generation): profile "
                                      "likelihood of the choice model over candidate radii (evosim.probe."
                                      "RADIUS_CANDIDATES, capped at the grid's diameter), coordinate-wise from the "
                                      "largest, two sweeps, on the pooled choices of up to 60 organisms (smallest "
                                      "ids); evosim.probe.estimate_radius. Unidentifiable (stays at the largest "
                                      "candidate) for a channel no organism's choices depend on",
        "behav_est_u_<feature>": "behavioural utility weight as behav_u_<feature>, but fitted on choice events "
                                 "extracted with the estimated radii (behav_est_radius_*) instead of the world's "
                                 "radii; equals behav_u_<feature> where the estimate equals world.radius",
        "behav_est_gamma": "distance discount of that fit",
        "behav_est_prefers_proxy": "behav_prefers_proxy with the estimated-radius utility (behav_est_u_*)",
        # -- the behavioural fit on training behaviour only (the red-door essay's internal vs behavioural view) --
        "behav_train_u_<feature>": "behavioural utility weight fitted, as behav_u_<feature>, on the organism's choice "
                                   "events of the train distribution only (no shift, shift_balanced or control event "
                                   "is read; at most evosim.probe.behaviour.MAX_EVENTS, evenly spread); same value on "
                                   "every distribution's row",
        "behav_train_gamma": "distance discount of that fit",
        "behav_train_prefers_proxy": "behav_prefers_proxy with the train-only utility (behav_train_u_*): what training "
                                     "behaviour alone says the organism prefers",
        "behav_train_preference_sd": "Laplace standard deviation of the train-only fit's w[proxy cue] - w[true cue]: "
                                     "sqrt(c' H^-1 c), H the penalised log-likelihood's negative Hessian at the fit "
                                     "(objectives.choice_information_batch); sqrt(2 / ridge) = 2 when training "
                                     "choices carry no information on the difference",
        "behav_train_identified": "1.0 where |w[proxy] - w[true]| of the train-only fit exceeds 1.96 of its "
                                  "behav_train_preference_sd (training choices separate the two cues beyond the "
                                  "fit's own noise), 0.0 where not, NaN without a fit",
    },
    "population_agreement": {
        "generation": "a saved generation (genomes.parquet)",
        "distribution": "a probed distribution (schema.DISTRIBUTIONS; the first probe.population_tasks held-out "
                        "layouts of each)",
        "n_planners": "planners of that generation",
        "rho_fitness_value": "Spearman correlation over planners of fitness (organisms.parquet, the base objective "
                             "on training episodes) and value_mesa on the distribution's tasks (what the "
                             "mesa-objective picks, valued by the base objective); NaN for < 3 planners",
        "rho_fitness_regret": "Spearman correlation over planners of fitness and regret_mesa (selection pushing the "
                              "mesa-objective toward the base objective on D makes it negative)",
        "regret_mesa_mean": "mean regret_mesa of the generation's planners",
        "rankcorr_mesa_mean": "mean rankcorr_mesa of the generation's planners",
    },
    "three_way": {
        "generation": "generation probed",
        "organism_id": "run-wide id",
        "architecture": "heuristic or planner",
        "depth": "planner search depth (-1 heuristics)",
        "class": "outcome class under shift",
        "mesa_prefers_proxy": "internal view: the evolved utility ranks the proxy target above the true target",
        "behav_prefers_proxy": "behavioural view: the fitted utility does",
        "views_agree": "1.0 where both views rank proxy vs true the same way, 0.0 where not, NaN for heuristics",
        "behav_fit": "behavioural fit quality on shift (pseudo-R^2)",
        "behav_choices": "choice events on shift",
        "why": "where the views disagree, the likeliest reason: few_choices (< 20 shift events), noise (fit "
               "pseudo-R^2 < 0.2), search_depth (depth > 1: plans value more than the next object), perception "
               "(the proxy-vs-true comparison involves a channel whose radius is below the largest), else unexplained; "
               "'agree' where the views agree, 'no_mesa' for heuristics",
    },
    "interventions": {
        "generation": "generation of the edited planners",
        "organism_id": "run-wide id of the planner whose genome was edited",
        "edit": "none, proxy_to_true (the proxy feature's weight moved onto the true feature) or true_to_proxy",
        "proxy_feature": "feature channel that marks the proxy target",
        "true_feature": "feature channel that marks the true target",
        "u_<feature>": "utility weight after the edit",
        "distribution": "shift",
        "normalised_return": "as in probe.parquet, after the edit",
        "normalised_proxy_return": "as in probe.parquet, after the edit",
        "proxy_choice_rate": "as in probe.parquet, after the edit",
        "class": "outcome class after the edit (against the perception-matched reference, as in probe.parquet)",
        "predicted_shift": "the direction the edit should move proxy_choice_rate: -1, 0 or +1",
    },
}

#: every table of a run directory, by name
COLUMNS = {**RUN_COLUMNS, **PROBE_COLUMNS}

#: documented columns of a sweep's tables (sweep.parquet: one row per run; summary.parquet: per cell and metric)
SWEEP_COLUMNS = {
    "cell": "index of the cell (override combination) in sweep order, from 0",
    "<section.field>": "one column per swept setting: its value in this cell (the base value where a cell leaves it)",
    "seed": "the run's seed",
    "cell_hash": "SHA-256 (first 16 hex digits) of the resolved config with seed: the run directory's name under cells/",
    "status": "complete or failed",
    "error": "why a run failed (one line), empty when complete",
    "report": "complete, unavailable (evosim.report not installed) or failed",
    "generations": "generations run (-1 for a failed run)",
    "planner_share": "fraction of planners in the final generation",
    "fitness_mean": "mean fitness of the final generation (training return minus planning cost)",
    "return_mean": "mean training return per episode of the final generation (base objective)",
    "proxy_mean": "mean proxy return per episode of the final generation",
    "plans_mean": "mean plans evaluated per episode in the final generation",
    "depth_mean": "mean search depth of the final generation's planners (NaN if none)",
    "heuristic_share": "fraction of heuristics in the final generation (from organisms.parquet)",
    "memoriser_share": "fraction of memorisers in the final generation (from organisms.parquet)",
    "fitness_max": "best fitness in the final generation",
    "planner_depth_mean": "mean expressed search depth of the final generation's planners (the evolved amount of "
                          "search; NaN without planners; from organisms.parquet)",
    "planner_depth_sd": "standard deviation of the final planners' depths (NaN without planners)",
    "depth_<d>": "fraction of the final generation's planners with search depth d, d = 0..3 (NaN without planners)",
    "n_planners": "number of planners in the probed (final) population (NaN without a report)",
    "<dist>_<arch>_<class>": "share of the final population's <arch> organisms (all, heuristic, planner, memoriser) in outcome "
                             "<class> (robust, pseudo_aligned, capability_failure) on held-out <dist> layouts "
                             "(schema.DISTRIBUTIONS); NaN without a report or without organisms of <arch>",
    "<dist>_normalised_return": "mean normalised true return of the final population on <dist> (probe.parquet's "
                                "normalised_return: against the reference, with the chance floor)",
}

SUMMARY_COLUMNS = {
    "cell": "cell index",
    "<section.field>": "the cell's value of each swept setting",
    "metric": "a numeric column of sweep.parquet (planner_share, shift_all_pseudo_aligned, ...)",
    "n": "seeds with a value (complete runs; NaN values excluded)",
    "n_failed": "seeds whose run failed",
    "mean": "mean across seeds",
    "sd": "standard deviation across seeds (ddof=1; NaN for n < 2)",
    "ci_lo": "lower end of the 95% confidence interval of the mean (NaN for n < 2; see interval)",
    "ci_hi": "upper end of the 95% confidence interval of the mean (NaN for n < 2; see interval)",
    "interval": "bootstrap (BCa bootstrap over seeds, evosim.stats.bca_interval, for shares: inside [0, 1]) or t "
                "(t-based, for unbounded metrics)",
}


# -- outcome-class shares --------------------------------------------------------------------
def class_shares(probe: pd.DataFrame, include_all: bool = False) -> pd.DataFrame:
    """Share of each outcome class by architecture and distribution, in the last generation probed.

    Columns ``architecture, distribution, n, *CLASSES``: one row per (architecture, distribution)
    present, ``n`` the organisms in it and the shares (fractions of ``n``, summing to 1). With
    ``include_all`` the rows of architecture ``"all"`` (the whole population, by distribution)
    follow, and architecture is a plain string column.
    """
    df = probe[probe["generation"] == probe["generation"].max()] if "generation" in probe.columns else probe
    if include_all:
        df = df.assign(architecture=df["architecture"].astype(str), distribution=df["distribution"].astype(str),
                       **{"class": df["class"].astype(str)})
        whole = df.assign(architecture="all")
        return pd.concat([_shares(df), _shares(whole)], ignore_index=True)
    return _shares(df)


def _shares(df: pd.DataFrame) -> pd.DataFrame:
    keys = ["architecture", "distribution"]
    n = df.groupby(keys, observed=True).size().rename("n")
    shares = df.groupby(keys, observed=True)["class"].value_counts(normalize=True).unstack(fill_value=0.0)
    for c in CLASSES:
        if c not in shares:
            shares[c] = 0.0
    return pd.concat([n, shares[list(CLASSES)]], axis=1).reset_index()


def class_share_columns(probe: pd.DataFrame) -> dict[str, float]:
    """``{"<distribution>_<group>_<class>": share}`` for every distribution, ``ARCH_GROUPS`` member and class
    (the last generation probed); NaN where the group has no organisms under that distribution. The network's
    columns only where networks take part (a category of the probe's ``architecture``), so that the tables of
    experiments without them are as before the network existed."""
    tab = class_shares(probe, include_all=True).set_index(["architecture", "distribution"])
    arch = probe["architecture"]
    cats = set(arch.cat.categories) if isinstance(arch.dtype, pd.CategoricalDtype) else set(arch.astype(str))
    groups = [a for a in ARCH_GROUPS if a != _registry.NETWORK.name or a in cats]
    out = {}
    for d in DISTRIBUTIONS:
        for a in groups:
            row = tab.loc[(a, d)] if (a, d) in tab.index else None
            for c in CLASSES:
                out[f"{d}_{a}_{c}"] = float(row[c]) if row is not None and row["n"] > 0 else math.nan
    return out


# -- confidence intervals --------------------------------------------------------------------
class TInterval(NamedTuple):
    """Mean of ``n`` values with its t-based confidence interval ``[lo, hi]`` (``mean -+ half``)."""

    n: int
    mean: float
    sd: float
    half: float
    lo: float
    hi: float


def t_interval(values, level: float = 0.95) -> TInterval:
    """Mean and t-based confidence interval of the mean of ``values`` (NaNs dropped).

    half = t((1 + level) / 2, n - 1) * sd / sqrt(n), sd the sample standard deviation (ddof=1).
    ``mean`` is NaN for n = 0; ``sd``, ``half``, ``lo`` and ``hi`` are NaN for n < 2. Not clipped:
    for shares use ``wilson_interval`` or ``bootstrap_interval``.
    """
    from scipy import stats

    v = np.asarray(values, dtype=float).ravel()
    v = v[~np.isnan(v)]
    n = len(v)
    mean = float(v.mean()) if n else math.nan
    if n < 2:
        return TInterval(n, mean, math.nan, math.nan, math.nan, math.nan)
    sd = float(v.std(ddof=1))
    half = float(stats.t.ppf(1 - (1 - level) / 2, n - 1) * sd / math.sqrt(n))
    return TInterval(n, mean, sd, half, mean - half, mean + half)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n``: always inside [0, 1]; (NaN, NaN) for n = 0."""
    from scipy import stats

    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"wilson_interval: need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return math.nan, math.nan
    z = float(stats.norm.ppf(1 - (1 - level) / 2))
    p = successes / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == n else min(1.0, centre + half)
    return lo, hi


def bootstrap_interval(values, rng=None, n_boot: int = 10_000, level: float = 0.95,
                       statistic=np.mean) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (default the mean) of ``values`` (NaNs dropped).

    ``rng`` is a ``numpy.random.Generator`` or a seed (deterministic given it). The bounds lie
    within [min(values), max(values)], so shares stay in [0, 1]. (NaN, NaN) without values.
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return math.nan, math.nan
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    idx = gen.integers(0, len(v), size=(n_boot, len(v)))
    stats_ = np.apply_along_axis(statistic, 1, v[idx]) if statistic is not np.mean else v[idx].mean(axis=1)
    a = (1 - level) / 2
    lo, hi = np.quantile(stats_, [a, 1 - a])
    return float(lo), float(hi)


__all__ = ["SELECTION_COLUMNS", "CLASSES", "DISTRIBUTIONS", "ARCHITECTURES", "ARCH_GROUPS", "architectures", "RUN_COLUMNS", "PROBE_COLUMNS", "COLUMNS",
           "SWEEP_COLUMNS", "SUMMARY_COLUMNS", "class_shares", "class_share_columns", "TInterval", "t_interval",
           "wilson_interval", "bootstrap_interval"]
