"""Rendering: plain data in; Telegram HTML, keyboards, CSV and outbox messages out.
No Telegram calls here."""
