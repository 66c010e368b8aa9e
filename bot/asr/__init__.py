"""Transcripts of recordings from an OpenAI-compatible speech-recognition server (issue #17):
the client (`bot.asr.client`) and the durable queue with its worker (`bot.asr.service`)."""

from bot.asr.client import AsrClient, AsrError
from bot.asr.service import RetryPolicy, Transcriber

__all__ = ["AsrClient", "AsrError", "RetryPolicy", "Transcriber"]
