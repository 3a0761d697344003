"""``slm-deploy schema``: the stack-file reference, generated from StackConfig."""

from __future__ import annotations

import json
from typing import Annotated

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("schema")
    def schema(
        as_json: Annotated[bool, typer.Option("--json", help="JSON Schema instead of Markdown.")] = False,
    ) -> None:
        """Print every stack-file key with type, default and description (Markdown, or --json Schema)."""
        from slm_deploy.schema_doc import json_schema, markdown_reference

        typer.echo(json.dumps(json_schema(), indent=2) if as_json else markdown_reference(), nl=False)
