"""`python -m bot` is the same program as `pttbridge`."""

from bot.cli import main

raise SystemExit(main())
