"""``python -m orb_pipeline.engine.bench``: see the package docstring."""

import sys

from orb_pipeline.engine.bench import main

sys.exit(main())
