"""Alerts: a failed run or a failed asset check posts a message naming job, partition, step and error.

Two sensors (evaluated by the daemon through the code server, so they also hear about runs on ECS):

- ``run_failure_alert``: every failed run, with each failed step and its error;
- ``failed_check_alert``: every asset check that did not pass in a finished run (a warning check
  does not fail its run, so nobody would hear of it otherwise), with the check's description.

The ``alerts`` resource sends to a Slack-compatible incoming webhook (``{"text": ...}`` JSON,
``ORB_ALERT_WEBHOOK_URL``, a secret resolved at evaluation time) and/or an SNS topic
(``ORB_ALERT_SNS_TOPIC_ARN``); with neither set the sensors only log. A delivery failure raises,
so the sensor tick shows it in the UI (Automation -> the sensor -> ticks) and the daemon logs it.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass

import dagster as dg
from pydantic import Field

from orb_pipeline.core import settings

MAX_ERROR_CHARACTERS = 1500  # Slack truncates long messages; the UI has the whole stack trace


class AlertNotifier(dg.ConfigurableResource):
    """Where alerts go: ``webhook_url`` (Slack-compatible JSON) and/or ``sns_topic_arn``."""

    webhook_url: str | None = Field(default=None, description="Slack-compatible incoming webhook")
    sns_topic_arn: str | None = Field(default=None, description="SNS topic for alerts")
    sns_region: str | None = Field(default=None, description="AWS region of the topic")
    timeout_seconds: float = 10.0

    def destinations(self) -> list[str]:
        """Where :meth:`send` delivers (the webhook's host only: its path is the secret)."""
        found = []
        if self.webhook_url:
            found.append("webhook " + urllib.request.urlparse(self.webhook_url).netloc)
        if self.sns_topic_arn:
            found.append("SNS " + self.sns_topic_arn)
        return found

    def send(self, subject: str, text: str) -> None:
        """Deliver ``subject`` + ``text`` to every configured destination."""
        if self.webhook_url:
            body = json.dumps({"text": f"*{subject}*\n{text}"}).encode()
            request = urllib.request.Request(
                self.webhook_url, data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310 - configured URL
                response.read()
        if self.sns_topic_arn:
            import boto3

            region = self.sns_region or self.sns_topic_arn.split(":")[3]
            boto3.session.Session().client("sns", region_name=region).publish(
                TopicArn=self.sns_topic_arn, Subject=subject[:100], Message=text
            )


def alerts_from_environment() -> AlertNotifier:
    """The ``alerts`` resource: ``ORB_ALERT_WEBHOOK_URL`` (a secret, resolved when a sensor
    evaluates) and ``ORB_ALERT_SNS_TOPIC_ARN``."""
    current = settings.current()
    return AlertNotifier(
        webhook_url=settings.optional_env_var("ORB_ALERT_WEBHOOK_URL"),
        sns_topic_arn=current.alert_sns_topic_arn,
    )


@dataclass(frozen=True)
class Alert:
    subject: str
    text: str


def _partition(run: dg.DagsterRun) -> str:
    tags = run.tags
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    first, last = (
        tags.get("dagster/asset_partition_range_start"),
        tags.get("dagster/asset_partition_range_end"),
    )
    return f"{first}...{last}" if first else "(not partitioned)"


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_ERROR_CHARACTERS else text[:MAX_ERROR_CHARACTERS] + " [...]"


def run_failure_alert_text(
    run: dg.DagsterRun, step_failures: list[dg.DagsterEvent], failure_message: str | None
) -> Alert:
    """The alert for a failed run: job, partition, run id, each failed step with its error."""
    lines = [f"job: {run.job_name}", f"partition: {_partition(run)}", f"run: {run.run_id}"]
    for event in step_failures:
        error = event.step_failure_data.error
        while error is not None and error.cause is not None:  # the user's error, not the wrapper
            error = error.cause
        message = error.message if error is not None else (event.message or "")
        lines.append(f"step: {event.step_key}")
        lines.append(f"error: {_short(message)}")
    if not step_failures:
        lines.append("step: (none failed; the run itself failed)")
        lines.append(f"error: {_short(failure_message or 'no message')}")
    return Alert(f"orb_pipeline: run of {run.job_name} failed", "\n".join(lines))


def failed_check_alert_text(
    run: dg.DagsterRun, evaluations: list[tuple[str | None, dg.AssetCheckEvaluation]]
) -> Alert:
    """The alert for checks that did not pass in ``run``: (step key, evaluation) pairs."""
    lines = [f"job: {run.job_name}", f"partition: {_partition(run)}", f"run: {run.run_id}"]
    for step_key, evaluation in evaluations:
        check = f"{evaluation.asset_key.to_user_string()}.{evaluation.check_name}"
        lines.append(f"step: {step_key or '?'}")
        partition = f" [{evaluation.partition}]" if evaluation.partition else ""
        lines.append(
            f"error: check {check}{partition} failed ({evaluation.severity.value}): "
            + _short(evaluation.description or _metadata_text(evaluation))
        )
    return Alert(
        f"orb_pipeline: {len(evaluations)} failed check(s) in {run.job_name}", "\n".join(lines)
    )


def _metadata_text(evaluation: dg.AssetCheckEvaluation) -> str:
    return "; ".join(f"{k}={v.value}" for k, v in evaluation.metadata.items()) or "no description"


def failed_checks_of_run(
    instance: dg.DagsterInstance, run_id: str
) -> list[tuple[str | None, dg.AssetCheckEvaluation]]:
    """(step key, evaluation) of every check evaluation of ``run_id`` that did not pass."""
    found = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        if not evaluation.passed:
            found.append((entry.step_key, evaluation))
    return found


@dg.run_failure_sensor(
    name="run_failure_alert",
    monitor_all_code_locations=False,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts every failed run (job, partition, failed steps and errors) to the alerts "
    "resource: ORB_ALERT_WEBHOOK_URL (Slack-compatible) and/or ORB_ALERT_SNS_TOPIC_ARN.",
)
def run_failure_alert(context: dg.RunFailureSensorContext, alerts: AlertNotifier) -> None:
    alert = run_failure_alert_text(
        context.dagster_run, context.get_step_failure_events(), context.failure_event.message
    )
    failed_checks = failed_checks_of_run(context.instance, context.dagster_run.run_id)
    if failed_checks:
        extra = failed_check_alert_text(context.dagster_run, failed_checks)
        alert = Alert(alert.subject, alert.text + "\n" + extra.text.split("\n", 3)[-1])
    _deliver(context, alerts, alert)


@dg.run_status_sensor(
    name="failed_check_alert",
    run_status=dg.DagsterRunStatus.SUCCESS,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts every asset check that did not pass in a successful run (warning checks "
    "do not fail runs) to the alerts resource.",
)
def failed_check_alert(context: dg.RunStatusSensorContext, alerts: AlertNotifier) -> None:
    failed = failed_checks_of_run(context.instance, context.dagster_run.run_id)
    if failed:
        _deliver(context, alerts, failed_check_alert_text(context.dagster_run, failed))


def _deliver(context, alerts: AlertNotifier, alert: Alert) -> None:
    destinations = alerts.destinations()
    context.log.info(f"{alert.subject} -> {', '.join(destinations) or 'log only'}\n{alert.text}")
    alerts.send(alert.subject, alert.text)
