"""Reject bad answers before anything is generated (cookiecutter stops on a non-zero exit).

No rules of its own: each answer is checked with the stack loader's own type for the key it fills
(components/validation.py, the types stacks/schema.py uses), read the way the stack file will read it
(text answers are written quoted, numbers as plain YAML scalars), and refused with the loader's own words.
tests/stacks/test_template_hook.py holds the two to each other.
"""

import sys
from pathlib import Path

# The template's own checkout first (slm-deploy new-stack passes the template by absolute path); otherwise
# the project as installed in the environment cookiecutter runs in (uv run cookiecutter templates/stack).
REPO_DIR = Path("{{ cookiecutter._repo_dir }}")
if REPO_DIR.is_absolute() and (REPO_DIR.parents[1] / "components" / "validation.py").is_file():
    sys.path.insert(0, str(REPO_DIR.parents[1]))
try:
    import yaml
    from components.validation import DnsLabel, DockerHostUrl, HostMemoryGb, value_problem
except ImportError as exc:
    print(f"error: the answers are checked with the project's own types ({exc}); run "
          "`./dev new-stack`, or cookiecutter inside the project's environment", file=sys.stderr)
    sys.exit(1)

# answer -> (the type of the stack key it fills, how errors name it)
TYPES = {
    "stack_name": (DnsLabel, "stack_name"),  # the stack file's name: stacks/Pulumi.<stack_name>.yaml
    "namespace": (DnsLabel, "namespace"),  # slm-deploy:namespace
    "docker_host": (DockerHostUrl, "docker_host"),  # slm-deploy:docker.host
    "host_memory_gb": (HostMemoryGb, "host_memory_gb"),  # slm-deploy:docker.memoryGb
}

answers = {
    "stack_name": "{{ cookiecutter.stack_name }}",
    "namespace": "{{ cookiecutter.namespace }}",
    "docker_host": "{{ cookiecutter.docker_host }}",
    "host_memory_gb": "{{ cookiecutter.host_memory_gb }}",
}


def as_written(key, answer):
    """The value the stack loader will see: text answers are quoted in the stack file (the stack name is its
    file name); the memory is a plain YAML scalar."""
    if key != "host_memory_gb":
        return answer
    try:
        return yaml.safe_load(answer)
    except yaml.YAMLError:
        return answer


problems = []
for key, answer in answers.items():
    type_, name = TYPES[key]
    problem = value_problem(type_, as_written(key, answer))
    if problem:
        problems.append(f"{name} = {answer!r}: {problem}")
for problem in problems:
    print(f"error: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
