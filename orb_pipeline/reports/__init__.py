"""Reports stage: a self-contained HTML research report per ticker and window."""
