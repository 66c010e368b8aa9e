"""Prometheus metrics of one bridge (its own registry: several bridges may share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.events_received = Counter(
            "pttbridge_events_received", "Platform callbacks received", ["route"], registry=r
        )
        self.events_stored = Counter(
            "pttbridge_events_stored", "Platform callbacks stored (new)", ["route"], registry=r
        )
        self.events_duplicate = Counter(
            "pttbridge_events_duplicate", "Platform callbacks already stored", ["route"], registry=r
        )
        self.events_rejected = Counter(
            "pttbridge_events_rejected",
            "Platform callbacks refused",
            ["route", "reason"],
            registry=r,
        )
        self.messages = Counter(
            "pttbridge_messages",
            "Outgoing Telegram sends by outcome (sent, retried, 429, failed)",
            ["outcome"],
            registry=r,
        )
        self.outbox_depth = Gauge(
            "pttbridge_outbox_depth", "Outbox rows by state", ["state"], registry=r
        )
        self.dead_letters = Gauge(
            "pttbridge_dead_letters", "Messages that failed for good", registry=r
        )
        self.platform_latency = Histogram(
            "pttbridge_platform_call_seconds",
            "Platform call latency",
            ["endpoint", "outcome"],
            registry=r,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.job_failures = Counter(
            "pttbridge_job_failures", "Scheduled jobs that failed", ["job"], registry=r
        )
        self.http_open = Gauge(
            "pttbridge_http_connections", "Open connections to the HTTP listener", registry=r
        )
        self.http_closed = Counter(
            "pttbridge_http_connections_closed",
            "Connections the listener refused (limit) or closed early (slow_headers)",
            ["reason"],
            registry=r,
        )

    def observe_platform(self, endpoint: str, seconds: float, outcome: str) -> None:
        self.platform_latency.labels(endpoint, outcome).observe(seconds)

    def message(self, outcome: str) -> None:
        self.messages.labels(outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
