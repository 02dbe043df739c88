"""Opening ranges stage: per ticker, session and range length, computed with the engine's opening_ranges."""
