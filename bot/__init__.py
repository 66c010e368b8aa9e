"""pttbridge: a Telegram bot bridging a push-to-talk dispatch platform into Telegram."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pttbridge")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
