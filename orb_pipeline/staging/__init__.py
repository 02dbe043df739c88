"""Hot staging stage: a ticker's window as binary columnar payloads in Redis (or the local staging cache)."""
