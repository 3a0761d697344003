"""Generate the Modelfile PARAMETER names Ollama accepts, from its ``api/types.go`` at the pinned tag.

    git -C <ollama checkout> show v0.12.3:api/types.go > /tmp/types.go
    uv run python scripts/ollama_params_from_source.py /tmp/types.go v0.12.3 <commit> components/ollama/parameters.json

``ollama create`` turns every ``PARAMETER name value`` into an option with ``api.FormatParams``, which accepts
exactly the json tags of the ``Options`` struct and the ``Runner`` struct it embeds and fails with
``unknown parameter`` for anything else. This script reads those two structs (field, Go type, json tag, line)
and writes them with the file's sha256, the tag and its commit, so ``components/ollama/modelfile.py`` checks
PARAMETER names and value types against the pinned version, not a hand-written list.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

_FIELD = re.compile(r'^\s+(\w+)\s+(\S+)\s+`json:"([a-z0-9_]+)(?:,[^"]*)?"`')
STRUCTS = ("Options", "Runner")


def parameters(text: str) -> dict[str, dict[str, object]]:
    """json tag -> {"go_type", "struct", "line"} for the fields of ``Options`` and ``Runner``."""
    out: dict[str, dict[str, object]] = {}
    lines = text.splitlines()
    for struct in STRUCTS:
        start = next((i for i, line in enumerate(lines) if line.startswith(f"type {struct} struct {{")), None)
        if start is None:
            raise SystemExit(f"type {struct} struct not found: api/types.go changed, update this script")
        for number in range(start + 1, len(lines)):
            line = lines[number]
            if line.startswith("}"):
                break
            match = _FIELD.match(line)
            if match:
                out[match.group(3)] = {"go_type": match.group(2), "struct": struct, "line": number + 1}
    if "num_ctx" not in out or "temperature" not in out:
        raise SystemExit("num_ctx / temperature not found: api/types.go changed, update this script")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    source, tag, commit, out = Path(argv[0]), argv[1], argv[2], Path(argv[3])
    text = source.read_text()
    data = {
        "generator": "scripts/ollama_params_from_source.py",
        "version": tag.removeprefix("v"),
        "tag": tag,
        "commit": commit,
        "file": "api/types.go",
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "parameters": parameters(text),
    }
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"{len(data['parameters'])} parameters from ollama {tag} api/types.go -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
