"""The composition root (`bridge.Bridge`) and the narrow services it hands to
handlers (`services`)."""
