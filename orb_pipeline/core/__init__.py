"""Shared primitives every stage uses (one owner each): the ``cache`` resource and, beside it, the
rules more than one stage applies. Stages import from here; this package imports no stage."""
