"""SLM checks for the rendered docker compose file (checkov has no compose framework)."""
from policies.compose.runner import ComposeReport, load_compose_checks, run_compose_checks

__all__ = ["ComposeReport", "load_compose_checks", "run_compose_checks"]
