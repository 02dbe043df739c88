"""Validation stage: walk-forward and train/test sweeps, generalization gap, promotion criteria, Monte Carlo."""
