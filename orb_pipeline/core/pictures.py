"""Pictures for Dagster metadata: a matplotlib figure as PNG bytes, a PNG as inline Markdown.

The Dagster UI renders ``dg.MetadataValue.md`` with inline ``data:image/png;base64`` images, so a
picture travels with its materialization event and needs no file server.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")  # headless: runs in daemons and ECS tasks

import matplotlib.pyplot as plt  # noqa: E402


def figure_png(figure, dpi: int = 100) -> bytes:
    """``figure`` saved as PNG (tight bounding box), then closed."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown that shows ``png`` inline (a base64 data URI), for ``dg.MetadataValue.md``."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
