-- MySQL (the results store): the user the pipeline writes backtest results as.
-- Read and write on the results database only (tables are created by the store's
-- ensure_tables, rows upserted by LOAD DATA LOCAL ... REPLACE or INSERT ... ON DUPLICATE KEY
-- UPDATE); TLS required. No other database, no FILE, no GRANT, no user administration.
-- Applied by the stack's init container as the RDS master user:
--   python -m orb_pipeline.orchestration.database_users results
-- {user} and {database} are quoted identifiers (ORB_RESULTS_USER, ORB_RESULTS_DATABASE);
-- %(password)s is a bound parameter (ORB_RESULTS_PASSWORD). Every statement may run again.
CREATE DATABASE IF NOT EXISTS {database};
CREATE USER IF NOT EXISTS {user} IDENTIFIED BY %(password)s REQUIRE SSL;
ALTER USER {user} IDENTIFIED BY %(password)s REQUIRE SSL;
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON {database}.* TO {user};
