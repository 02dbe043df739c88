"""Results stage: the results store (MySQL / SQLite), upserts, leaderboard, trade ledgers and plots."""
