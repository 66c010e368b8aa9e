"""The demo: the sandbox platform, the Telegram emulator and the whole bridge in one process.

`stack` builds them together (for `pttbridge demo`, `pttbridge console`, the
end-to-end tests and the benches); `tour` is the scripted tour and the console.
This package is application code; `bot.sandbox` stays free of it.
"""
