"""Cached bars stage: the warehouse pull stored as 1-second bars in Parquet, one file per ticker and session."""
