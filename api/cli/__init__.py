"""`lifecert` command line: verify two photos, benchmark, judge liveness, run the service.

Exit codes of ``verify`` and ``liveness``: 0 match / live, 1 not, 2 error (the JSON says why).
Each command group lives in its own module; importing them registers their commands.
"""

from api.cli import liveness_commands, matching, model_commands, service_commands
from api.cli.common import app

__all__ = ["app", "liveness_commands", "matching", "model_commands", "service_commands"]
