"""Reject bad answers before anything is generated (cookiecutter stops on a non-zero exit)."""

import re
import sys

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

answers = {
    "stack_name": "{{ cookiecutter.stack_name }}",
    "namespace": "{{ cookiecutter.namespace }}",
    "kind": "{{ cookiecutter.kind }}",
    "monitoring": "{{ cookiecutter.monitoring }}",
    "host_memory_gb": "{{ cookiecutter.host_memory_gb }}",
    "docker_host": "{{ cookiecutter.docker_host }}",
}
problems = []
for key in ("stack_name", "namespace"):
    if not DNS_LABEL.match(answers[key]):
        problems.append(f"{key} = {answers[key]!r}: must be a DNS-1123 label (lowercase letters, digits, '-')")
try:
    if float(answers["host_memory_gb"]) <= 0:
        raise ValueError
except ValueError:
    problems.append(f"host_memory_gb = {answers['host_memory_gb']!r}: must be a positive number")
if not re.match(r"^(unix|tcp|ssh)://", answers["docker_host"]):
    problems.append(f"docker_host = {answers['docker_host']!r}: must start with unix://, tcp:// or ssh://")
for problem in problems:
    print(f"error: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
