"""Fixtures for the production instance: deploy/dagster.yaml in a temp DAGSTER_HOME on a fresh
PostgreSQL database, and AWS simulated by moto on loopback."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def postgres_env(database: dict) -> dict[str, str]:
    """The variables deploy/dagster.yaml reads, pointing at one test database."""
    return {
        "DAGSTER_PG_HOST": database["host"],
        "DAGSTER_PG_PORT": str(database["port"]),
        "DAGSTER_PG_USER": database["user"],
        "DAGSTER_PG_PASSWORD": database["password"],
        "DAGSTER_PG_DB": database["database"],
    }


POSTGRES_TLS = (
    "        sslmode: verify-full\n        sslrootcert: /opt/dagster/certs/rds-global-bundle.pem\n"
)


def without_postgres_tls(instance_yaml: str) -> str:
    """deploy/dagster.yaml's text for a PostgreSQL without TLS (fails if the TLS lines moved)."""
    assert instance_yaml.count(POSTGRES_TLS) == 1, "deploy/dagster.yaml's PostgreSQL TLS changed"
    return instance_yaml.replace(POSTGRES_TLS, "        sslmode: disable\n")


def postgres_engine(database: dict):
    """A SQLAlchemy engine on one test database (to read Dagster's tables independently)."""
    import sqlalchemy as sa

    url = sa.engine.URL.create(
        "postgresql+psycopg2",
        username=database["user"],
        password=database["password"] or None,
        host=database["host"],
        port=database["port"],
        database=database["database"],
    )
    return sa.create_engine(url)


@pytest.fixture
def production_home(tmp_path, postgres_database, fake_aws, monkeypatch) -> Path:
    """A DAGSTER_HOME holding deploy/dagster.yaml, its variables set for this test. One change:
    the local PostgreSQL speaks no TLS, so ``sslmode: verify-full`` with the image's RDS bundle
    becomes ``disable`` (test_stack_files checks the production values)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(without_postgres_tls((DEPLOY / "dagster.yaml").read_text()))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name, value in postgres_env(postgres_database).items():
        monkeypatch.setenv(name, value)
    # Step logs go to S3 (moto): the stack points this at its cache bucket.
    bucket = "orb-logs-" + tmp_path.name.lower().replace("_", "-")[:30]
    fake_aws.client("s3").create_bucket(Bucket=bucket)
    monkeypatch.setenv("DAGSTER_COMPUTE_LOGS_BUCKET", bucket)
    return home


@dataclass
class FakeAws:
    """moto on loopback with the pieces the stack creates: network, cluster, task definitions,
    and a running daemon task whose network the launcher copies."""

    endpoint_url: str
    cluster_arn: str
    run_task_definition_arn: str
    daemon_task_arn: str
    subnet_id: str
    security_group_id: str
    metadata_uri: str

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION)


REGION = "us-east-1"
FARGATE = {
    "requiresCompatibilities": ["FARGATE"],
    "networkMode": "awsvpc",
    "cpu": "1024",
    "memory": "2048",
}


class _TaskMetadataHandler(BaseHTTPRequestHandler):
    """ECS task metadata endpoint v4 (``$ECS_CONTAINER_METADATA_URI_V4/task``) of the daemon task."""

    task: dict = {}

    def do_GET(self):  # noqa: N802 (http.server API)
        body = json.dumps(self.task if self.path.endswith("/task") else {"Name": "daemon"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_aws(monkeypatch) -> FakeAws:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint_url = f"http://{host}:{port}"
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint_url,
    }.items():
        monkeypatch.setenv(name, value)
    ec2 = boto3.client("ec2", endpoint_url=endpoint_url, region_name=REGION)
    ecs = boto3.client("ecs", endpoint_url=endpoint_url, region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="orb-tasks", Description="orb", VpcId=vpc)[
        "GroupId"
    ]
    cluster = ecs.create_cluster(clusterName="orb-pipeline")["cluster"]["clusterArn"]
    container = {"image": "orb-pipeline:test", "cpu": 1024, "memory": 2048, "essential": True}
    ecs.register_task_definition(
        family="orb-daemon", containerDefinitions=[{"name": "daemon", **container}], **FARGATE
    )
    run_definition = ecs.register_task_definition(
        family="orb-run",
        containerDefinitions=[
            {
                "name": "run",
                **container,
                "environment": [{"name": "NUMBA_CACHE_DIR", "value": "/opt/numba_cache"}],
            }
        ],
        **FARGATE,
    )["taskDefinition"]["taskDefinitionArn"]
    daemon = ecs.run_task(
        cluster=cluster,
        taskDefinition="orb-daemon",
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}
        },
    )["tasks"][0]["taskArn"]

    handler = type(
        "Handler", (_TaskMetadataHandler,), {"task": {"Cluster": cluster, "TaskARN": daemon}}
    )
    metadata = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=metadata.serve_forever, daemon=True).start()
    metadata_uri = f"http://127.0.0.1:{metadata.server_address[1]}/v4/daemon"
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", metadata_uri)
    monkeypatch.setenv("ORB_ECS_RUN_TASK_DEFINITION", "orb-run")
    try:
        yield FakeAws(endpoint_url, cluster, run_definition, daemon, subnet, group, metadata_uri)
    finally:
        metadata.shutdown()
        server.stop()
