"""``new-stack``'s questions: only those the chosen kind uses, each answer checked at once.

An answer is checked the way the stack loader checks a stack file, because it *is* checked by the loader:
the answers so far (defaults for the rest) are baked by the cookiecutter template into a draft in a
scratch project and loaded with :func:`stacks.loader.load_stack`. A problem located at a key the answer
fills is reported against that answer (one line, then the question is asked again). Problems located at
a key a later question fills wait for that question; problems about a whole component (the sizing
verdict: does it fit?) wait until every question that decides the size is answered, and then send the
user back through those questions with the current answers as defaults.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["KINDS", "Question", "QUESTIONS", "questions_for", "choices_for", "default_for", "shown_default",
           "answer_problem", "Draft", "draft", "owned_problems", "SIZE_KEYS", "derived_answers"]

KINDS = ("vllm-gpu", "ollama-docker", "ollama-kubernetes", "onnx-edge")
KUBERNETES_KINDS = ("vllm-gpu", "ollama-kubernetes")
DOCKER_KINDS = ("ollama-docker", "onnx-edge")
ENGINE = {"vllm-gpu": "vllm", "ollama-docker": "ollama", "ollama-kubernetes": "ollama", "onnx-edge": "onnx"}
# The entry each kind's component lands in (a problem located exactly here is about the whole component).
ENTRY = {"vllm": "vllm[0]", "ollama": "ollama", "onnx": "onnxEdge[0]"}


@dataclass(frozen=True)
class Question:
    key: str
    """The cookiecutter variable (templates/stack/cookiecutter.json) and the ``--set`` key."""
    text: str
    kinds: tuple[str, ...]
    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per engine (or ``*``): the stack-file keys (below ``slm-deploy:``) this answer fills."""

    def paths_for(self, kind: str) -> tuple[str, ...]:
        return self.paths.get(ENGINE[kind], ()) + self.paths.get("*", ())


QUESTIONS = (
    Question("stack_name", "Stack name (DNS label; becomes stacks/Pulumi.<name>.yaml)", KINDS),
    Question("kind", "What the stack deploys", KINDS),
    Question("namespace", "Kubernetes namespace", KUBERNETES_KINDS, {"*": ("namespace",)}),
    Question("docker_host", "Docker host: unix:// socket, tcp://host:port or ssh://user@box", DOCKER_KINDS,
             {"*": ("docker.host",)}),
    Question("host_memory_gb", "Host memory in GB (the fit check; edge boxes: 4, 8, 16 or 32)", DOCKER_KINDS,
             {"*": ("docker.memoryGb",), "onnx": ("onnxEdge[0].hardwareTier",)}),
    Question("gpu", "GPU type", ("vllm-gpu",), {"vllm": ("vllm[0].gpu",)}),
    Question("model", "Model (catalog id)", KINDS,
             {"vllm": ("vllm[0].model", "vllm[0].name"), "ollama": ("ollama.models",), "onnx": ("onnxEdge[0].model",)}),
    Question("quantization", "Weight format", KINDS,
             {"vllm": ("vllm[0].quantization",), "ollama": ("ollama.models",), "onnx": ("onnxEdge[0].variant",)}),
    Question("context_length", "Context length in tokens (prompt + answer)", KINDS,
             {"vllm": ("vllm[0].maxModelLen",), "ollama": ("ollama.server.contextLength",),
              "onnx": ("onnxEdge[0].maxLength",)}),
    Question("concurrency", "Requests served at once", KINDS,
             {"vllm": ("vllm[0].concurrency",), "ollama": ("ollama.server.numParallel",),
              "onnx": ("onnxEdge[0].concurrency",)}),
    Question("monitoring", "Monitoring: own Prometheus/Grafana (standalone), the cluster's Prometheus Operator, or none",
             KUBERNETES_KINDS, {"*": ("monitoring", "cluster.prometheusOperator")}),
    Question("opt_out_approver", "Reviewer approving the root-user opt-out (empty: run as uid 10001 instead)",
             ("ollama-docker",), {"ollama": ("ollama.optOuts", "ollama.dockerUser")}),
)
BY_KEY = {q.key: q for q in QUESTIONS}
# The answers that decide the size: asked again, in this order, when the sizing verdict says no.
SIZE_KEYS = ("gpu", "host_memory_gb", "model", "quantization", "context_length", "concurrency")

# What each engine does with an empty sizing answer (shown as the default; the field descriptions say why).
_ENGINE_DEFAULTS = {
    "vllm": {"context_length": "auto: min(model maximum, 8192)", "concurrency": "4"},
    "ollama": {"context_length": "4096", "concurrency": "1"},
    "onnx": {"context_length": "1024", "concurrency": "1"},
}
_TEMPLATE_DEFAULTS = {"gpu": "l4", "monitoring": "standalone", "docker_host": "unix:///var/run/docker.sock",
                      "host_memory_gb": "16", "model": "phi-4-mini-instruct", "stack_name": "team-a"}


def questions_for(kind: str) -> list[Question]:
    return [q for q in QUESTIONS if kind in q.kinds]


def choices_for(key: str, answers: dict[str, str]) -> list[str] | None:
    """The allowed answers of a choice question (None: free text)."""
    from components.catalog import list_gpus

    kind = answers.get("kind", "")
    if key == "kind":
        return list(KINDS)
    if key == "gpu":
        return [g.id for g in list_gpus()]
    if key == "monitoring":
        return ["standalone", "operator", "none"]
    if key == "quantization":
        spec = _model_spec(answers.get("model", ""))
        if spec is None:
            return None
        engine = ENGINE.get(kind)
        if engine == "vllm":
            return list(spec.vllm_quantizations)
        if engine == "ollama":
            return list(spec.ollama_quantizations)
        if engine == "onnx" and spec.onnx is not None:
            return list(spec.onnx.variants)
    return None


def default_for(key: str, answers: dict[str, str]) -> str:
    """The value Enter keeps: a previous answer, else the template's default ('' = the engine decides)."""
    if key in answers:
        return answers[key]
    if key == "namespace":
        return f"slm-{answers.get('stack_name', 'team-a')}"
    if key == "kind":
        return KINDS[0]
    if key == "quantization":
        choices = choices_for(key, answers)
        return "" if not choices else ("cpu-int4" if "cpu-int4" in choices else choices[0])
    return _TEMPLATE_DEFAULTS.get(key, "")


def shown_default(key: str, value: str, answers: dict[str, str]) -> str:
    """How the default reads in the prompt: an empty sizing answer names what the engine will do."""
    if value:
        return value
    return _ENGINE_DEFAULTS.get(ENGINE.get(answers.get("kind", ""), ""), {}).get(key, "none")


def answer_problem(key: str, value: str, answers: dict[str, str], project: Path) -> str | None:
    """Checks that need no draft: one line, or None."""
    from components.validation import dns_label_problem, docker_host_problem

    if any(ord(c) < 32 for c in value):
        return "must be one line of text"
    choices = choices_for(key, answers)
    if choices is not None and value and value not in choices:
        return f"allowed: {', '.join(choices)}"
    if key == "stack_name":
        problem = dns_label_problem(value)
        if problem:
            return problem
        if (project / "stacks" / f"Pulumi.{value}.yaml").exists():
            return f"stacks/Pulumi.{value}.yaml exists already; choose another name"
    if key == "namespace":  # the loader's own type checks (components/validation.py), before the template's hook
        return dns_label_problem(value)
    if key == "docker_host":
        return docker_host_problem(value)
    if key in ("context_length", "concurrency", "host_memory_gb") and value:
        try:
            number = float(value) if key == "host_memory_gb" else int(value)
        except ValueError:
            return "must be a whole number" if key != "host_memory_gb" else "must be a number of GB"
        if number <= 0:
            return "must be greater than 0"
        spec = _model_spec(answers.get("model", ""))
        if key == "context_length" and spec is not None and number > spec.max_position_embeddings:
            return f"above {spec.id}'s maximum context of {spec.max_position_embeddings} tokens"
    return None


def derived_answers(answers: dict[str, str]) -> dict[str, str]:
    """Template variables computed from the answers: an Ollama model in a chosen quantization is its
    pinned catalog tag (qwen3:8b-q8_0); the catalog default quantization is left to the catalog."""
    out = dict(answers)
    spec = _model_spec(out.get("model", ""))
    quant = out.get("quantization", "")
    if quant and spec is not None and ENGINE.get(out.get("kind", "")) == "ollama" and spec.ollama_tag:
        from components.ollama.models import catalog_tag

        if quant != (spec.ollama_quantizations or [""])[0]:
            out["_model_ref"] = catalog_tag(spec, quant)
        out["quantization"] = ""  # carried by the tag
    return out


def _model_spec(model: str):
    from components.catalog import UnknownCatalogId, get_model

    try:
        return get_model(model) if model else None
    except UnknownCatalogId:
        return None


# --------------------------------------------------------------------------- drafts
@dataclass
class Draft:
    """The loader's verdict on a draft: its problems, or the loaded stack (offline: placeholders allowed)."""

    problems: list = field(default_factory=list)
    loaded: object | None = None
    config: dict | None = None
    """The draft's ``config:`` mapping as baked (what the fit check of new-stack sizes)."""


def draft(answers: dict[str, str], bake: Callable[[dict[str, str], Path], Path], project: Path) -> Draft:
    """Bake ``answers`` (defaults for the rest) into a scratch copy of the project and load the result."""
    import yaml

    from stacks.errors import ConfigError
    from stacks.loader import load_stack

    with tempfile.TemporaryDirectory(prefix="slm-deploy-draft-") as tmp:
        scratch = Path(tmp)
        shutil.copyfile(project / "Pulumi.yaml", scratch / "Pulumi.yaml")
        (scratch / "stacks").mkdir()
        path = bake(answers, scratch)
        stack = path.name[len("Pulumi."):-len(".yaml")]
        config = (yaml.safe_load(path.read_text()) or {}).get("config")
        try:
            return Draft(loaded=load_stack(stack, scratch, offline=True), config=config)
        except ConfigError as exc:
            return Draft(problems=list(exc.problems), config=config)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def owned_problems(problems: list, kind: str, asked: set[str]) -> tuple[list, list]:
    """Split a draft's problems into (about answers already given, about the whole component's size).

    A problem at a key only unasked questions fill waits for them; a problem about the whole component
    (located at its entry, e.g. ``vllm[0]``) is a sizing verdict, returned second, and only once every
    size question the kind asks has been answered.
    """
    mine, sizing = [], []
    size_keys = [q.key for q in questions_for(kind) if q.key in SIZE_KEYS]
    for problem in problems:
        path = problem.key.split(":", 1)[1] if ":" in problem.key else ""
        owners = [q.key for q in questions_for(kind) if any(_under(path, p) for p in q.paths_for(kind))]
        if owners:
            if any(o in asked for o in owners):
                mine.append(problem)
            continue
        if all(k in asked for k in size_keys):
            sizing.append(problem)
    return mine, sizing
