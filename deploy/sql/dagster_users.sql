-- PostgreSQL (the Dagster instance database): the user deploy/dagster.yaml connects as.
-- It logs in and works in the public schema of its own database (creates and owns Dagster's
-- tables, reads and writes rows of tables the master created before); it is no superuser, creates
-- no databases and no roles. Applied by the stack's init container as the RDS master user:
--   python -m orb_pipeline.orchestration.database_users dagster
-- {user} and {database} are quoted identifiers (DAGSTER_PG_USER, DAGSTER_PG_DB); %(password)s is
-- a bound parameter (DAGSTER_PG_PASSWORD). Every statement may run again (an existing role is
-- kept and its password reset).
CREATE ROLE {user} LOGIN PASSWORD %(password)s;
ALTER ROLE {user} WITH LOGIN PASSWORD %(password)s;
REVOKE ALL ON DATABASE {database} FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {user};
GRANT USAGE, CREATE ON SCHEMA public TO {user};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {user};
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {user};
