"""Positions and tracks: distances, summaries, GPX and PNG files."""
