"""The probe: roll a population out on held-out layouts of every distribution (``evosim.schema.DISTRIBUTIONS``) and
measure what every organism achieves, how it behaves, what it pursues and how that agrees with the
base reward (columns: ``evosim.schema.PROBE_COLUMNS``).

One module per job:

``sets``           held-out layouts, the exact oracle, random baselines, the perception-matched reference
``outcomes``       achievement columns, baselines (random, idle, chance floor) and ``probe_population`` (probe.parquet)
``behaviour``      choice events, the behavioural fit, perception radii from behaviour, planted validation
``interventions``  the causal check: edited mesa-objectives re-probed (interventions.parquet)
``agreement``      agreement on tasks, population agreement over generations, the three-way comparison
"""
from evosim.probe.agreement import (
    POPULATION_TASKS, mesa_task_values, population_agreement, preference_features, task_values, three_way,
)
from evosim.probe.behaviour import (
    GAMMAS, MAX_EVENTS, RADIUS_CANDIDATES, RIDGE, choice_events, estimate_radius, fit_behavioural,
    fit_behavioural_batch, fit_pooled, fit_with_radius, planted_planners, planted_validation, radius_subsample,
)
from evosim.probe.interventions import EDITS, edit_utility, interventions, target_features
from evosim.probe.outcomes import probe_population
from evosim.probe.sets import (
    REFERENCE_ID, ProbeSet, baseline_classes, best_value, idle_returns, matched_reference, oracle_returns,
    probe_layouts, probe_rollout, probe_sets,
    random_genomes, reference_genomes, reference_utility,
)

__all__ = [
    "EDITS", "GAMMAS", "MAX_EVENTS", "POPULATION_TASKS", "RADIUS_CANDIDATES", "REFERENCE_ID", "RIDGE", "ProbeSet",
    "baseline_classes", "best_value", "choice_events", "idle_returns", "edit_utility", "estimate_radius", "fit_behavioural", "fit_behavioural_batch",
    "fit_pooled", "fit_with_radius", "interventions", "matched_reference", "mesa_task_values", "oracle_returns",
    "planted_planners", "planted_validation", "population_agreement", "preference_features", "probe_layouts",
    "probe_population", "probe_rollout", "probe_sets", "radius_subsample", "random_genomes", "reference_genomes",
    "reference_utility", "target_features", "task_values", "three_way",
]
