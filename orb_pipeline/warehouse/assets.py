"""``warehouse_greeks``: the external option-snapshot table the pipeline reads (not materialized here)."""

import dagster as dg

warehouse_greeks = dg.AssetSpec(
    "warehouse_greeks",
    description=(
        "Option snapshots in the warehouse (MySQL `options.greeks` in production, the embedded demo "
        "SQLite file by default): timestamp_utc, ticker, underlying, delta, implied_volatility, id. "
        "Read by cached_bars through the `warehouse` resource."
    ),
    group_name="data",
    kinds={"mysql", "sqlite"},
)
