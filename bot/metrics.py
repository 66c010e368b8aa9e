"""Prometheus metrics of one bridge (its own registry: several bridges may share a process)."""

from __future__ import annotations

import platform
from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest

import bot


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        counter, gauge = partial(Counter, registry=r), partial(Gauge, registry=r)
        # pttbridge_build_info{version="0.1.0",python="3.11.7"} 1.0
        Info("pttbridge_build", "The running pttbridge and Python", registry=r).info(
            {"version": bot.__version__, "python": platform.python_version()}
        )
        self.events_received = counter(
            "pttbridge_events_received", "Platform callbacks received", ["route"]
        )
        self.events_stored = counter(
            "pttbridge_events_stored", "Platform callbacks stored (new)", ["route"]
        )
        self.events_duplicate = counter(
            "pttbridge_events_duplicate", "Platform callbacks already stored", ["route"]
        )
        self.events_rejected = counter(
            "pttbridge_events_rejected", "Platform callbacks refused", ["route", "reason"]
        )
        self.messages = counter(
            "pttbridge_messages",
            "Outgoing Telegram sends by outcome (sent, retried, 429, failed)",
            ["outcome"],
        )
        self.outbox_depth = gauge("pttbridge_outbox_depth", "Outbox rows by state", ["state"])
        self.dead_letters = gauge("pttbridge_dead_letters", "Messages that failed for good")
        self.platform_latency = Histogram(
            "pttbridge_platform_call_seconds",
            "Platform call latency",
            ["endpoint", "outcome"],
            registry=r,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.job_failures = counter("pttbridge_job_failures", "Scheduled jobs that failed", ["job"])
        self.http_open = gauge(
            "pttbridge_http_connections", "Open connections to the HTTP listener"
        )
        self.http_closed = counter(
            "pttbridge_http_connections_closed",
            "Connections the listener refused (limit) or closed early (slow_headers)",
            ["reason"],
        )

        self.transcripts = counter(
            "pttbridge_transcripts",
            "Transcription attempts by result (done, failed for good, retried later)",
            ["result"],
        )
        for result in ("done", "failed", "retried"):
            self.transcripts.labels(result)  # shown as 0 before the first
        self.transcripts_pending = gauge(
            "pttbridge_transcripts_pending", "Recordings waiting for their transcript"
        )

    def observe_platform(self, endpoint: str, seconds: float, outcome: str) -> None:
        self.platform_latency.labels(endpoint, outcome).observe(seconds)

    def message(self, outcome: str) -> None:
        self.messages.labels(outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
