"""Which env entries / command-line values carry a secret inline (shared by k8s and compose)."""
from __future__ import annotations

import re

from policies.rules._argv import flag_value, tokens
from policies.rules._k8s import EnvVar

SECRET_NAME = re.compile(
    r"(^|_)(TOKEN|API_?KEY|SECRET|SECRET_KEY|PASSWORD|PASSWD|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?)($|_)", re.I)
PATH_SUFFIXES = ("_FILE", "_PATH")
HARMLESS_VALUES = {"", "true", "false", "yes", "no", "0", "1", "on", "off"}
TOKEN_SHAPES = re.compile(r"\b(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,})")
SECRET_FLAGS = ("--api-key", "--api_key", "--token", "--hf-token", "--hf_token", "--password", "--secret-key",
                "--auth-token", "--access-token")
READS_FILE = re.compile(r"(\$\(\s*(cat|<)\s)|(`\s*cat\s)")
PY_TOKEN_KW = re.compile(r"\b(token|api_key)\s*=\s*[\"'][^\"']+[\"']")


def env_problems(env: list[EnvVar]) -> list[str]:
    problems = []
    for var in env:
        value = var.value or ""
        if TOKEN_SHAPES.search(value):
            problems.append(f"env {var.name} holds a token literal")
            continue
        if not SECRET_NAME.search(var.name):
            continue
        if var.name.upper().endswith(PATH_SUFFIXES):
            if var.source == "literal" and value.startswith("/"):
                continue  # carries a path to a mounted secret file
            problems.append(f"env {var.name} should carry a file path, got {var.source}")
        elif var.source == "literal" and value.lower() not in HARMLESS_VALUES:
            problems.append(f"env {var.name} is a literal secret")
        elif var.source in ("secretKeyRef", "configMapKeyRef", "host"):
            problems.append(f"env {var.name} injects a secret as an env var ({var.source}); mount it as a file")
    return problems


def argv_problems(argv: list[str]) -> list[str]:
    problems = []
    toks = tokens(argv)
    value = flag_value(toks, *SECRET_FLAGS)
    if value is not None and not value.startswith("$") and not READS_FILE.search(" ".join(argv)):
        problems.append("a secret is passed as a command-line literal")
    joined = " ".join(argv)
    if TOKEN_SHAPES.search(joined) or PY_TOKEN_KW.search(joined):
        problems.append("the command line contains a token literal")
    return problems
