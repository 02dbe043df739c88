"""Orchestration that spans stages: ECS sizing of sweep runs, cross-stage jobs, the demo runner."""
