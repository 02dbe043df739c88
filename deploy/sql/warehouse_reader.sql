-- MySQL (the option-snapshot warehouse, outside the stack): the read-only user the pipeline
-- pulls ticks as. SELECT on the one table, nothing else; TLS required.
-- The warehouse's administrator runs it once (the stack has no warehouse admin credentials),
-- with the values the stack's WarehouseSecret holds:
--   WAREHOUSE_ADMIN_USER=admin WAREHOUSE_ADMIN_PASSWORD=... ORB_WAREHOUSE_HOST=... \
--   ORB_WAREHOUSE_USER=orb_reader ORB_WAREHOUSE_PASSWORD=... ORB_WAREHOUSE_TLS_CA=ca.pem \
--   python -m orb_pipeline.orchestration.database_users warehouse
-- {user}, {database}, {table} are quoted identifiers (ORB_WAREHOUSE_USER, ORB_WAREHOUSE_DATABASE,
-- ORB_WAREHOUSE_TABLE); %(password)s is a bound parameter. Every statement may run again.
CREATE USER IF NOT EXISTS {user} IDENTIFIED BY %(password)s REQUIRE SSL;
ALTER USER {user} IDENTIFIED BY %(password)s REQUIRE SSL;
GRANT SELECT ON {database}.{table} TO {user};
