"""Liveness checks over video frames (blink, read-the-digits). Not built yet: see issue 3."""
