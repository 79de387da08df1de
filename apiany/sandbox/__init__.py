"""An OpenAI-compatible fake upstream, deterministic and steerable per request."""

from apiany.sandbox.app import create_sandbox_app, run
from apiany.sandbox.directives import Directives

__all__ = ["Directives", "create_sandbox_app", "run"]
