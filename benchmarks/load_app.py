"""The app as the load benchmarks run it: the service's own, from the environment, except that
challenges are blink-only with a window that fits the recorded clip (LOAD_WINDOW_S): a
recording cannot follow random prompts. Never used by `lifecert serve`."""

from __future__ import annotations

import os

from fastapi import FastAPI

from api.http.app import app_from_environment
from liveness.challenge import FixedWindowChallenges


def app() -> FastAPI:
    application = app_from_environment()
    application.state.service.challenges = FixedWindowChallenges(window_s=float(os.environ["LOAD_WINDOW_S"]))
    return application
