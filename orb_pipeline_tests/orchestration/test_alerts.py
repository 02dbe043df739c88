"""Alerts of failed runs and failed checks reach a Slack-compatible webhook (a real HTTP server on
loopback) and an SNS topic (moto's server, read back through a subscribed SQS queue), naming job,
partition, step and error."""

# No `from __future__ import annotations`: Dagster reads the context annotations.

import http.server
import json
import threading

import boto3
import dagster as dg
import pytest

from orb_pipeline.orchestration.alerts import AlertNotifier, failed_check_alert, run_failure_alert
from orb_pipeline_tests.warehouse.seeding import s3_endpoint  # noqa: F401 - moto server fixture

letters = dg.StaticPartitionsDefinition(["a", "b"])


@dg.asset(partitions_def=letters)
def breaks(context: dg.AssetExecutionContext) -> None:
    raise ValueError(f"bad price in partition {context.partition_key}")


@dg.asset(
    partitions_def=letters,
    check_specs=[dg.AssetCheckSpec("has_rows", asset="quiet", description="rows exist")],
)
def quiet(context: dg.AssetExecutionContext):
    yield dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name="has_rows",
                passed=False,
                severity=dg.AssetCheckSeverity.WARN,
                description=f"no rows for SPY on {context.partition_key}",
            )
        ]
    )


@pytest.fixture
def webhook():
    """A loopback HTTP server recording each POSTed JSON body."""
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/secret", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def sns_topic(s3_endpoint, monkeypatch):  # noqa: F811 - the moto server fixture
    """An SNS topic on moto with an SQS queue subscribed; yields (topic ARN, read messages)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="orb-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="orb-alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    def messages() -> list[dict]:
        found = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in found]

    return topic, messages


def _failure_context(instance, result):
    run = instance.get_run_by_id(result.run_id)
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure,
    ).for_run_failure()


def test_failed_run_alert_names_job_partition_step_and_error(webhook, sns_topic):
    url, received = webhook
    topic, messages = sns_topic
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [breaks], instance=instance, partition_key="b", raise_on_error=False
        )
        assert not result.success
        alerts = AlertNotifier(webhook_url=url, sns_topic_arn=topic)
        run_failure_alert(_failure_context(instance, result), alerts=alerts)

    (posted,) = received
    text = posted["text"]
    assert text.startswith("*orb_pipeline: run of __ephemeral_asset_job__ failed*\n")
    assert "\njob: __ephemeral_asset_job__\n" in text and "\npartition: b\n" in text
    assert "\nstep: breaks\n" in text
    assert "error: ValueError: bad price in partition b" in text
    (notification,) = messages()
    assert notification["Subject"] == "orb_pipeline: run of __ephemeral_asset_job__ failed"
    assert notification["Message"] == text.split("\n", 1)[1]


def test_failed_warning_check_in_a_successful_run_is_alerted(webhook):
    url, received = webhook
    with dg.instance_for_test() as instance:
        result = dg.materialize([quiet], instance=instance, partition_key="a")
        assert result.success  # a warning check does not fail the run: only the alert tells
        run = instance.get_run_by_id(result.run_id)
        (success,) = [
            e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS
        ]
        context = dg.build_run_status_sensor_context(
            sensor_name="failed_check_alert",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=success,
        )
        failed_check_alert(context, alerts=AlertNotifier(webhook_url=url))

    (posted,) = received
    text = posted["text"]
    assert "\npartition: a\n" in text and "\nstep: quiet\n" in text
    assert "error: check quiet.has_rows failed (WARN): no rows for SPY on a" in text


def test_unreachable_webhook_fails_the_tick_naming_nothing_secret():
    alerts = AlertNotifier(webhook_url="http://127.0.0.1:9/services/T/B/very-secret-path")
    assert alerts.destinations() == ["webhook 127.0.0.1:9"]
    with pytest.raises(OSError):
        alerts.send("subject", "text")
