"""The service as it is deployed: the build info /metrics carries, the systemd unit, and the
container recipe's steps (deploy/install.sh) run here as the Dockerfile runs them."""

from __future__ import annotations

import platform

from prometheus_client.parser import text_string_to_metric_families

import bot
from bot.metrics import Metrics


def test_metrics_carry_the_build_info() -> None:
    families = {f.name: f for f in text_string_to_metric_families(Metrics().render().decode())}
    [sample] = families["pttbridge_build_info"].samples
    assert sample.name == "pttbridge_build_info"
    assert sample.labels == {"version": bot.__version__, "python": platform.python_version()}
    assert sample.value == 1
