"""Assembles the code location's ``dg.Definitions`` from each stage, in lineage order."""

import dagster as dg

from orb_pipeline import deployments
from orb_pipeline.bars.definitions import defs as bars_defs
from orb_pipeline.ranges.definitions import defs as ranges_defs
from orb_pipeline.results.definitions import defs as results_defs
from orb_pipeline.series.definitions import defs as series_defs
from orb_pipeline.staging.definitions import defs as staging_defs
from orb_pipeline.sweeps.definitions import defs as sweeps_defs
from orb_pipeline.validation.definitions import defs as validation_defs
from orb_pipeline.warehouse.definitions import defs as warehouse_defs

defs = dg.Definitions.merge(
    warehouse_defs,
    bars_defs,
    ranges_defs,
    series_defs,
    staging_defs,
    sweeps_defs,
    results_defs,
    validation_defs,
    dg.Definitions(resources=deployments.resources()),
)
