"""Static checks of what Docker and CloudFormation cannot run here: the template passes cfn-lint
and wires what deploy/dagster.yaml reads; the compose file parses and is complete; the Dockerfile
is multi-stage, pinned, and its numba warm-up command really warms a cache."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from orb_pipeline.core import settings
from orb_pipeline_tests.deploy.conftest import DEPLOY, REPO


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation's short-form intrinsics (``!Ref X`` -> {"Ref": X})."""


def _intrinsic(loader, tag_suffix, node):
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def _template() -> dict:
    return yaml.load((DEPLOY / "cloudformation.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506


def _env_names_read_by(instance_yaml: Path) -> set[str]:
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if set(node) == {"env"}:
                found.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(instance_yaml.read_text()))
    return found


def _containers(template: dict, task_definition: str) -> dict[str, dict]:
    containers = template["Resources"][task_definition]["Properties"]["ContainerDefinitions"]
    return {container["Name"]: container for container in containers}


def _container(template: dict, task_definition: str) -> dict:
    """The task's essential container (the daemon task also has an init container)."""
    (container,) = [
        c for c in _containers(template, task_definition).values() if c.get("Essential", True)
    ]
    return container


def _entries(items: list) -> list[dict]:
    """Environment or secret entries, with a conditional one (``!If [c, entry, NoValue]``) as
    its entry: the stack sets it when the condition holds."""
    found = []
    for item in items:
        if "Fn::If" in item:
            item = item["Fn::If"][1]
        found.append(item)
    return found


def _container_env(container: dict) -> set[str]:
    return {e["Name"] for e in _entries(container.get("Environment", []))} | {
        s["Name"] for s in _entries(container.get("Secrets", []))
    }


def test_cloudformation_template_passes_cfn_lint():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), str(DEPLOY / "cloudformation.yaml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_stack_has_every_service_the_pipeline_needs():
    resources = _template()["Resources"]
    by_type: dict[str, list[str]] = {}
    for name, resource in resources.items():
        by_type.setdefault(resource["Type"], []).append(name)
    assert len(by_type["AWS::ECS::Cluster"]) == 1
    assert len(by_type["AWS::ECS::TaskDefinition"]) == 4  # web server, daemon, code server, run
    assert len(by_type["AWS::ECS::Service"]) == 3  # runs are tasks, not a service
    engines = sorted(resources[n]["Properties"]["Engine"] for n in by_type["AWS::RDS::DBInstance"])
    assert engines == ["mysql", "postgres"]
    for name in by_type["AWS::RDS::DBInstance"]:
        properties = resources[name]["Properties"]
        assert properties["PubliclyAccessible"] is False and properties["StorageEncrypted"] is True
        assert "secretsmanager" in properties["MasterUserPassword"]["Fn::Sub"]
    (redis,) = [resources[n]["Properties"] for n in by_type["AWS::ElastiCache::ReplicationGroup"]]
    assert redis["TransitEncryptionEnabled"] is True and redis["AtRestEncryptionEnabled"] is True
    assert "secretsmanager" in redis["AuthToken"]["Fn::Sub"]
    (bucket,) = [resources[n]["Properties"] for n in by_type["AWS::S3::Bucket"]]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(by_type["AWS::SecretsManager::Secret"]) >= 3


def test_task_definitions_provide_what_the_production_instance_reads():
    template = _template()
    needed = _env_names_read_by(DEPLOY / "dagster.yaml")
    assert {"DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD", "ORB_ECS_RUN_TASK_DEFINITION"} <= needed
    for task_definition in ("WebserverTaskDefinition", "DaemonTaskDefinition", "RunTaskDefinition"):
        missing = needed - _container_env(_container(template, task_definition))
        assert not missing, f"{task_definition} does not set {sorted(missing)}"
    # Passwords are injected from Secrets Manager, never written into the template.
    for task_definition in ("WebserverTaskDefinition", "DaemonTaskDefinition", "RunTaskDefinition"):
        container = _container(template, task_definition)
        plain = {e["Name"] for e in _entries(container.get("Environment", []))}
        assert not {n for n in plain if "PASSWORD" in n}
    # The launcher overrides the container named in deploy/dagster.yaml.
    launcher = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["run_launcher"]["config"]
    assert _container(template, "RunTaskDefinition")["Name"] == launcher["container_name"]
    # Web server and daemon load code from the code server the workspace names.
    workspace = _env_names_read_by(DEPLOY / "workspace.yaml")
    for task_definition in ("WebserverTaskDefinition", "DaemonTaskDefinition"):
        assert workspace <= _container_env(_container(template, task_definition))
        assert "deploy/workspace.yaml" in " ".join(_container(template, task_definition)["Command"])


def _env_vars_of_the_definitions() -> set[str]:
    """Every variable resources resolve at run time: the declared run-time variables, and every
    literal name passed to ``dg.EnvVar`` / ``settings.env_var`` / ``optional_env_var`` in the
    package (resources resolve them in the run task, and in the code server when a sensor or
    schedule uses the resource)."""
    found = {variable.name for variable in settings.RUN_TIME_VARIABLES}
    calls = {"EnvVar", "env_var", "optional_env_var"}
    for path in (REPO / "orb_pipeline").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and (
                getattr(node.func, "attr", None) in calls or getattr(node.func, "id", None) in calls
            ):
                if node.args and isinstance(node.args[0], ast.Constant):
                    found.add(node.args[0].value)
    return found


def test_every_env_var_the_definitions_resolve_is_set_where_they_are_evaluated():
    names = _env_vars_of_the_definitions()
    assert {"ORB_WAREHOUSE_HOST", "ORB_WAREHOUSE_USER", "ORB_WAREHOUSE_PASSWORD"} <= names
    template = _template()
    # Runs resolve every resource; the code server evaluates sensors (ticker_sensor lists the
    # warehouse's tickers) and schedules, which may use any resource.
    for task_definition in ("RunTaskDefinition", "CodeServerTaskDefinition"):
        container = _container(template, task_definition)
        missing = names - _container_env(container)
        assert not missing, f"{task_definition} does not set {sorted(missing)}"
        plain = {e["Name"] for e in _entries(container.get("Environment", []))}
        assert not {n for n in plain if "PASSWORD" in n or n.endswith("_USER")}, task_definition


def test_sweep_grid_and_chunks_reach_the_tasks_that_load_definitions():
    template = _template()
    assert set(template["Parameters"]) >= {"SweepGridKey", "SweepChunks"}
    for task_definition in ("RunTaskDefinition", "CodeServerTaskDefinition"):
        environment = _container(template, task_definition)["Environment"]
        conditional = {
            item["Fn::If"][0]: item["Fn::If"][1] for item in environment if "Fn::If" in item
        }
        grid = conditional["HasSweepGrid"]
        assert grid["Name"] == "ORB_SWEEP_GRID"
        assert grid["Value"] == {"Fn::Sub": "s3://${CacheBucket}/grids/${SweepGridKey}"}
        assert conditional["HasSweepChunks"] == {
            "Name": "ORB_SWEEP_CHUNKS",
            "Value": {"Ref": "SweepChunks"},
        }


RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"


def _image_ca_bundle() -> str:
    """Where the image holds the RDS CA bundle: the Dockerfile fetches it from AWS at build time
    to the path its ORB_RDS_CA_BUNDLE names."""
    dockerfile = (REPO / "Dockerfile").read_text()
    path = re.search(r"^ENV ORB_RDS_CA_BUNDLE=(\S+)$", dockerfile, re.M).group(1)
    url = re.search(r"^ARG RDS_CA_BUNDLE_URL=(\S+)$", dockerfile, re.M).group(1)
    assert url == RDS_CA_BUNDLE_URL
    assert re.search(
        r"^ADD (--chmod=644 )?\$\{RDS_CA_BUNDLE_URL\} " + re.escape(path) + "$", dockerfile, re.M
    )
    return path


def _secret_of(entry: dict) -> str:
    """The secret resource a task-definition secret entry reads (``!Sub "${X}:key::"`` -> X)."""
    return re.fullmatch(r"\$\{(\w+)\}:\w+::", entry["ValueFrom"]["Fn::Sub"]).group(1)


def test_apps_connect_as_least_privilege_users_not_the_master_users():
    template = _template()
    resources = template["Resources"]
    masters = {
        re.search(r"\$\{(\w+)\}", resources[name]["Properties"]["MasterUsername"]["Fn::Sub"])[1]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::RDS::DBInstance"
    }
    assert masters == {"DagsterDatabaseSecret", "ResultsDatabaseSecret"}
    app_users = {
        "DAGSTER_PG_USER",
        "DAGSTER_PG_PASSWORD",
        "ORB_RESULTS_USER",
        "ORB_RESULTS_PASSWORD",
    }
    seen = set()
    for name, resource in resources.items():
        if resource["Type"] != "AWS::ECS::TaskDefinition":
            continue
        for container in _containers(template, name).values():
            for entry in container.get("Secrets", []):
                if container["Name"] != "database-users":
                    assert _secret_of(entry) not in masters, (name, entry["Name"])
                if entry["Name"] in app_users:
                    seen.add(entry["Name"])
                    assert _secret_of(entry) in {
                        "DagsterAppDatabaseSecret",
                        "ResultsAppDatabaseSecret",
                    }, (name, entry["Name"])
    assert seen == app_users

    # The app users' names differ from the masters' and are the ones deploy/sql/ grants to.
    def username(secret: str) -> str:
        template_text = resources[secret]["Properties"]["GenerateSecretString"]
        return json.loads(template_text["SecretStringTemplate"])["username"]

    assert username("DagsterAppDatabaseSecret") != username("DagsterDatabaseSecret")
    assert username("ResultsAppDatabaseSecret") != username("ResultsDatabaseSecret")


def test_database_users_init_container_runs_before_the_daemon():
    from orb_pipeline.orchestration import database_users

    template = _template()
    containers = _containers(template, "DaemonTaskDefinition")
    init, daemon = containers["database-users"], containers["daemon"]
    assert init["Essential"] is False
    assert daemon["DependsOn"] == [{"ContainerName": "database-users", "Condition": "SUCCESS"}]
    command = init["Command"]
    assert command[:3] == ["python", "-m", "orb_pipeline.orchestration.database_users"]
    targets = command[3:]
    assert sorted(targets) == ["dagster", "results"]
    needed = {name for target in targets for name in database_users.NEEDS[target]}
    missing = needed - _container_env(init)
    assert not missing, f"database-users does not set {sorted(missing)}"
    plain = {e["Name"] for e in init["Environment"]}
    assert not {n for n in plain if "PASSWORD" in n or n.endswith("_USER")}
    # The SQL it applies is in the image (WORKDIR /opt/dagster/app + COPY deploy/sql deploy/sql).
    assert re.search(r"^COPY deploy/sql deploy/sql$", (REPO / "Dockerfile").read_text(), re.M)
    assert database_users.SQL_DIR == Path("deploy/sql")
    for target in targets:
        assert (REPO / database_users.SQL_DIR / f"{target}_users.sql").is_file()
    # The web server starts after the daemon service (so after the users exist).
    assert "DaemonService" in template["Resources"]["WebserverService"]["DependsOn"]


def test_databases_are_verified_against_the_rds_ca_bundle_in_the_image():
    bundle = _image_ca_bundle()
    assert bundle.startswith("/opt/dagster/")  # inside the runtime image's layout
    postgres = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["storage"]["postgres"]
    params = postgres["postgres_db"]["params"]
    assert params["sslmode"] == "verify-full" and params["sslrootcert"] == bundle
    template = _template()
    assert template["Parameters"]["WarehouseTlsCa"]["Default"] == bundle
    for task_definition in ("RunTaskDefinition", "CodeServerTaskDefinition"):
        environment = _container(template, task_definition)["Environment"]
        values = {e["Name"]: e["Value"] for e in _entries(environment)}
        assert values["ORB_RESULTS_TLS_CA"] == bundle
        assert values["ORB_WAREHOUSE_TLS_CA"] == {"Ref": "WarehouseTlsCa"}
    init = _containers(template, "DaemonTaskDefinition")["database-users"]
    values = {e["Name"]: e["Value"] for e in init["Environment"]}
    assert values["PGSSLMODE"] == "verify-full" and values["PGSSLROOTCERT"] == bundle
    assert values["ORB_RESULTS_TLS_CA"] == bundle


def test_ui_is_internal_with_an_https_and_sign_in_option():
    template = _template()
    resources = template["Resources"]
    assert resources["LoadBalancer"]["Properties"]["Scheme"] == "internal"
    # Port 80: a redirect to HTTPS when a certificate is given, else the UI in plain HTTP.
    condition, with_certificate, without = resources["WebserverListener"]["Properties"][
        "DefaultActions"
    ]["Fn::If"]
    assert condition == "HasWebCertificate"
    assert with_certificate == [
        {
            "Type": "redirect",
            "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
        }
    ]
    assert [action["Type"] for action in without] == ["forward"]
    https = resources["WebserverHttpsListener"]
    assert https["Condition"] == "HasWebCertificate"
    properties = https["Properties"]
    assert properties["Protocol"] == "HTTPS" and properties["Port"] == 443
    assert properties["SslPolicy"].startswith("ELBSecurityPolicy-TLS13-1-2")
    assert properties["Certificates"] == [{"CertificateArn": {"Ref": "WebCertificateArn"}}]
    condition, signed_in, open_ = properties["DefaultActions"]["Fn::If"]
    assert condition == "HasWebCognito"
    ordered = sorted(signed_in, key=lambda action: action["Order"])
    assert [action["Type"] for action in ordered] == ["authenticate-cognito", "forward"]
    assert ordered[0]["AuthenticateCognitoConfig"]["OnUnauthenticatedRequest"] == "authenticate"
    assert [action["Type"] for action in open_] == ["forward"]
    # Sign-in only over HTTPS: the Cognito condition needs the certificate.
    assert {"Fn::Condition": "HasWebCertificate"} in template["Conditions"]["HasWebCognito"][
        "Fn::And"
    ]
    ingress = resources["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    https_rule = next(rule["Fn::If"] for rule in ingress if "Fn::If" in rule)
    assert https_rule[0] == "HasWebCertificate" and https_rule[1]["FromPort"] == 443


def test_daemon_role_allows_only_what_the_run_launcher_calls():
    resources = _template()["Resources"]
    (policy,) = resources["DaemonTaskRole"]["Properties"]["Policies"]
    actions = set()
    for statement in policy["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow"
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    assert actions == {
        "ecs:RunTask",
        "ecs:TagResource",
        "ecs:DescribeTasks",
        "ecs:StopTask",
        "ecs:DescribeTaskDefinition",
        "ec2:DescribeNetworkInterfaces",
        "iam:PassRole",
    }
    # Web server: terminate runs only, never start them.
    web_actions = set()
    for web in resources["WebserverTaskRole"]["Properties"]["Policies"]:
        for statement in web["PolicyDocument"]["Statement"]:
            listed = statement["Action"]
            web_actions.update([listed] if isinstance(listed, str) else listed)
    assert "ecs:RunTask" not in web_actions
    # ... and read step logs (compute-logs/ in the cache bucket), never write anything.
    assert not {
        a for a in web_actions if a.startswith("s3:") and a not in {"s3:GetObject", "s3:ListBucket"}
    }


def test_compose_file_describes_the_full_local_stack():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgresql", "mysql", "redis", "codeserver", "webserver", "daemon"}
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name} uses undeclared volume {source}"
    instance_env = _env_names_read_by(DEPLOY / "compose" / "dagster.yaml")
    workspace_env = _env_names_read_by(DEPLOY / "workspace.yaml")
    for name in ("codeserver", "webserver", "daemon"):
        environment = services[name]["environment"]
        assert instance_env <= set(environment), f"{name} misses instance variables"
        assert environment["DAGSTER_HOME"] == "/opt/dagster/compose_home"
    for name in ("webserver", "daemon"):
        environment = services[name]["environment"]
        assert workspace_env <= set(environment)
        assert environment["ORB_CODE_SERVER_HOST"] == "codeserver"
        assert "deploy/workspace.yaml" in " ".join(services[name]["command"])
    code_port = services["webserver"]["environment"]["ORB_CODE_SERVER_PORT"]
    assert services["codeserver"]["command"][-1] == code_port
    # Every image is pinned to a version, none floats on :latest.
    for service in services.values():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest")


def test_dockerfile_is_multi_stage_pinned_and_warms_numba():
    dockerfile = (REPO / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.M).group(1)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base)
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) >= 2
    assert "--constraint deploy/constraints.txt" in dockerfile
    assert re.search(r"NUMBA_CACHE_DIR=/\S+", dockerfile)
    assert "RUN python -m orb_pipeline.orchestration.warmup" in dockerfile
    # Whatever the Dockerfile copies from the context survives .dockerignore's allow-list.
    allowed = [
        line[1:].rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for sources in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M):
        for source in sources.split():
            assert any(source == a or source.startswith(a + "/") for a in allowed), source
            assert (REPO / source).exists(), source


def test_constraints_pin_every_runtime_dependency():
    pins = {}
    for line in (DEPLOY / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name.lower())] = version
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in dependencies:
        name = re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower())
        assert pins.get(name), (
            f"{name} is not pinned in deploy/constraints.txt (run deploy/lock.sh)"
        )


def test_numba_warm_up_command_runs_and_caches_the_engine_kernels():
    # The suite's shared cache (orb_pipeline_tests/conftest.py): compiling from empty costs about
    # a minute on 2 cores, which the image build pays once; here an already-warm cache is fine.
    cache = Path(os.environ["NUMBA_CACHE_DIR"])
    result = subprocess.run(
        [sys.executable, "-m", "orb_pipeline.orchestration.warmup"],
        env={**os.environ, "NUMBA_CACHE_DIR": str(cache)},
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"numba warm-up: 8 backtests", result.stdout), result.stdout
    engine_kernels = [p for p in cache.rglob("*.nbi") if p.parent.name.startswith("engine")]
    assert engine_kernels, f"no engine kernel cached under {cache}"
