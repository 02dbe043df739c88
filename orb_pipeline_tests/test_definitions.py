"""Smoke test: the code location loads and every asset's resource requirements are met."""

import dagster as dg

from orb_pipeline.definitions import defs


def test_definitions_load_and_resolve():
    repository = defs.get_repository_def()
    assert isinstance(defs, dg.Definitions)
    # Resolving the job graph validates resource keys and partition definitions.
    repository.get_all_jobs()
