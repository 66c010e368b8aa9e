"""Scheduled work: presence watch, new recordings, attendance digests, platform health,
and the directory refresh with its diff. `Jobs` (in `bot.jobs.service`) ties them to
the scheduler."""

from bot.jobs.service import Jobs, report_job_id

__all__ = ["Jobs", "report_job_id"]
