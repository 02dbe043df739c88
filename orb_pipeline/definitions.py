"""Assembles the code location's ``dg.Definitions`` from each stage, in lineage order.

Stages are imported as modules (not ``from ... import defs``): Dagster's loaders
(``dagster dev``, ``dagster definitions validate -m``, the gRPC code server) refuse a module that
holds more than one ``Definitions`` object at module scope.
"""

import dagster as dg

from orb_pipeline import resources
from orb_pipeline.bars import definitions as bars
from orb_pipeline.orchestration import definitions as orchestration
from orb_pipeline.ranges import definitions as ranges
from orb_pipeline.reports import definitions as reports
from orb_pipeline.results import definitions as results
from orb_pipeline.series import definitions as series
from orb_pipeline.staging import definitions as staging
from orb_pipeline.sweeps import definitions as sweeps
from orb_pipeline.validation import definitions as validation
from orb_pipeline.warehouse import definitions as warehouse

defs = dg.Definitions.merge(
    warehouse.defs,
    bars.defs,
    ranges.defs,
    series.defs,
    staging.defs,
    sweeps.defs,
    results.defs,
    validation.defs,
    reports.defs,
    orchestration.defs,
    dg.Definitions(resources=resources.resources()),
)
