"""Run config at launch cannot point a resource at another host: the deployment's variables win,
checked when the resource is set up for the run (here on the real MariaDB results store)."""

import dagster as dg
import pytest

from orb_pipeline.core.settings import DeploymentOverrideError, check_deployment_values
from orb_pipeline.results.resource import MySqlResultsStore, ResultsStore


@dg.asset
def touches_results(results: ResultsStore) -> None:
    results.describe()


def _deployed_store(mysql_database) -> MySqlResultsStore:
    return MySqlResultsStore(
        host=dg.EnvVar("ORB_RESULTS_HOST"),
        port=mysql_database["port"],
        user=dg.EnvVar("ORB_RESULTS_USER"),
        password=dg.EnvVar("ORB_RESULTS_PASSWORD"),
        database=mysql_database["database"],
    )


@pytest.fixture
def deployed(mysql_database, monkeypatch):
    monkeypatch.setenv("ORB_RESULTS_HOST", mysql_database["host"])
    monkeypatch.setenv("ORB_RESULTS_USER", mysql_database["user"])
    monkeypatch.setenv("ORB_RESULTS_PASSWORD", mysql_database["password"])
    monkeypatch.setenv("ORB_RESULTS_PORT", str(mysql_database["port"]))
    monkeypatch.setenv("ORB_RESULTS_DATABASE", mysql_database["database"])
    return mysql_database


def test_the_deployments_host_runs(deployed):
    result = dg.materialize([touches_results], resources={"results": _deployed_store(deployed)})
    assert result.success


def test_run_config_pointing_the_store_at_another_host_is_refused(deployed):
    with pytest.raises(dg.DagsterResourceFunctionError) as raised:
        dg.materialize(
            [touches_results],
            resources={"results": _deployed_store(deployed)},
            run_config={"resources": {"results": {"config": {"host": "attacker.example"}}}},
        )
    cause = raised.value.__cause__
    assert isinstance(cause, DeploymentOverrideError)
    assert "host 'attacker.example' differs from ORB_RESULTS_HOST" in str(cause)


def test_user_override_is_refused_without_showing_it(monkeypatch):
    monkeypatch.setenv("ORB_RESULTS_USER", "orb")
    with pytest.raises(DeploymentOverrideError, match=r"user \(hidden\) differs") as raised:
        check_deployment_values("results store", {"ORB_RESULTS_USER": "root"})
    assert "root" not in str(raised.value)
    monkeypatch.delenv("ORB_RESULTS_USER")
    check_deployment_values("results store", {"ORB_RESULTS_USER": "root"})  # not deployed: free


@pytest.mark.parametrize("override", [None, "/tmp/attacker-ca.pem"], ids=["off", "other_ca"])
def test_run_config_cannot_switch_tls_verification_off_or_trust_another_ca(
    deployed, monkeypatch, override
):
    # The deployment verifies TLS against its CA; run config may neither drop nor replace it.
    monkeypatch.setenv("ORB_RESULTS_TLS_CA", "/opt/dagster/certs/rds-global-bundle.pem")
    store = _deployed_store(deployed).model_copy(
        update={"tls_ca_path": "/opt/dagster/certs/rds-global-bundle.pem"}
    )
    with pytest.raises(dg.DagsterResourceFunctionError) as raised:
        dg.materialize(
            [touches_results],
            resources={"results": store},
            run_config={
                "resources": {
                    "results": {
                        "config": {
                            # everything as deployed but the CA
                            **{k: deployed[k] for k in ("host", "port", "user", "password")},
                            "database": deployed["database"],
                            "tls_ca_path": override,
                        }
                    }
                }
            },
        )
    cause = raised.value.__cause__
    assert isinstance(cause, DeploymentOverrideError)
    assert "differs from ORB_RESULTS_TLS_CA of the deployment" in str(cause)
