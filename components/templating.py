"""jinja2 rendering of generated files (configs, Modelfiles, dashboards, rules) from templates/files/."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["render_template", "TEMPLATES_DIR"]

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates" / "files"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_template(name: str, **context: Any) -> str:
    """Render ``templates/files/<name>``; a missing variable is an error, not an empty string."""
    return _environment().get_template(name).render(**context)
