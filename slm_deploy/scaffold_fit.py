"""``new-stack``'s fit check, in the words of its questions.

As soon as the model and the hardware are known, every size answer is checked against the sizing model
(the same Args and sizing functions the stack loader runs, on the draft the answers bake into). A
configuration that does not fit is reported with the questions and answers that decide it
(``context_length 32768 × concurrency 8``, ``host_memory_gb 8``) and what would fit as answers to those
questions (``a shorter context: context_length 3072``), never as stack-file keys the user did not type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Verdict", "fit_verdict", "fitting_answers", "put_answer", "QUESTION_OF"]

# Which question changes a fix of the sizing model (components.sizing.ENGINE_FIXES); fixes no question
# asks (vLLM gpuCount and kvCacheDtype, Ollama's KV type and loaded models) are not offered here.
QUESTION_OF = {"context": "context_length", "concurrency": "concurrency", "quantization": "quantization",
               "gpu": "gpu", "host": "host_memory_gb"}


def _host_gb(fix) -> str:
    from components.catalog import get_cpu_tier

    return str(get_cpu_tier(fix.value).memory_gib)


@dataclass(frozen=True)
class Verdict:
    """A configuration that does not fit: the problem in question words, and each fix as an answer."""

    problem: str
    answers: tuple[tuple[str, str], ...]
    """(question, the answer that would fit), one per fix the questions can make."""


def _words(engine: str) -> dict[str, str | Callable]:
    words: dict[str, str | Callable] = {s: f"{q} {{value}}" for s, q in QUESTION_OF.items()}
    words["host"] = lambda fix: f"host_memory_gb {_host_gb(fix)}"
    if engine == "vllm":
        del words["host"]
    else:
        del words["gpu"]
    return words


def _answers(fixes, engine: str) -> tuple[tuple[str, str], ...]:
    words = _words(engine)
    return tuple((QUESTION_OF[f.setting], _host_gb(f) if f.setting == "host" else f.value)
                 for f in fixes if f.setting in words)


def fit_verdict(engine: str, config: dict) -> Verdict | None:
    """The sizing verdict of a baked draft's ``config`` (the stack file's ``config:`` mapping): None when it
    fits (or the draft has no model server to size); ValueError for a combination the sizing model refuses
    (e.g. fp8 on a GPU without fp8), with its reason."""
    if engine == "vllm":
        return _vllm(config["slm-deploy:vllm"][0])
    if engine == "ollama" and config.get("slm-deploy:target") == "docker":
        return _ollama(config["slm-deploy:ollama"], config["slm-deploy:docker"]["memoryGb"])
    if engine == "onnx":
        return _onnx(config["slm-deploy:onnxEdge"][0], config["slm-deploy:docker"]["memoryGb"])
    return None  # Ollama on Kubernetes: its memory request is derived, nothing to fit on


def _vllm(entry: dict) -> Verdict | None:
    from components.catalog import get_model
    from components.sizing import report_vllm, worded
    from components.sizing.common import fit_message, gib

    plan = report_vllm(entry["model"], quantization=entry.get("quantization", "bf16"),
                       max_model_len=entry.get("maxModelLen"), concurrency=entry.get("concurrency", 4),
                       gpu=entry["gpu"])
    if plan.fits:
        return None
    usable = f"{gib(plan.available_bytes)} usable"
    where = (f"gpu {plan.gpu} has {usable}" if plan.gpu_count == 1 else
             f"even {plan.gpu_count} × gpu {plan.gpu} (the most one pod gets) have {usable}")
    problem = fit_message(f"{get_model(plan.model).display_name} {plan.quantization}", plan,
                          f"context_length {plan.max_model_len} × concurrency {plan.concurrency}", where,
                          worded(plan.fixes, _words("vllm")))
    return Verdict(problem, _answers(plan.fixes, "vllm"))


def _ollama(section: dict, memory_gb: float) -> Verdict | None:
    from components.ollama import OllamaStackArgs
    from components.sizing import worded

    args = OllamaStackArgs.model_validate(section)
    fit = args.host_fit(float(memory_gb))
    if fit.fits:
        return None
    top = fit.loaded[0]
    problem = (f"{top.model} {top.quantization} needs {top.total_bytes / 2**30:.1f} GiB at context_length "
               f"{top.num_ctx} × concurrency {args.server.num_parallel}, + {fit.others_bytes / 2**30:.1f} GiB for "
               f"Open WebUI = {fit.needed_bytes / 2**30:.1f} GiB, but host_memory_gb is {float(memory_gb):g}. "
               "What would fit: " + ("; ".join(worded(fit.fixes, _words("ollama"))) or "a smaller model"))
    return Verdict(problem, _answers(fit.fixes, "ollama"))


def _onnx(entry: dict, memory_gb: float) -> Verdict | None:
    from components.catalog import get_cpu_tier, get_model
    from components.sizing import report_onnx, worded
    from components.sizing.common import fit_message, gib

    tier = get_cpu_tier(entry["hardwareTier"])
    plan = report_onnx(entry["model"], variant=entry.get("variant", "cpu-int4"), max_length=entry["maxLength"],
                       concurrency=entry.get("concurrency", 1), host_memory_bytes=tier.allocatable_bytes)
    if plan.fits:
        return None
    problem = fit_message(
        f"{get_model(entry['model']).display_name} {plan.quantization}", plan,
        f"context_length {entry['maxLength']} × concurrency {entry.get('concurrency', 1)}",
        f"host_memory_gb {float(memory_gb):g} leaves {gib(tier.allocatable_bytes)} for the server",
        worded(plan.fixes, _words("onnx")))
    return Verdict(problem, _answers(plan.fixes, "onnx"))


SMALLEST_CONTEXT = 1024
"""The shortest context the fit check of a question still to come assumes (a chat turn and its answer)."""


def fitting_answers(engine: str, config: dict, open_questions: set[str],
                    quantizations: list[str]) -> dict[str, str] | None:
    """Answers to the size questions still open that would make the draft fit, or None when none can: the
    shortest context, one request at a time, and the first of ``quantizations`` that fits (as far as those
    questions are open). The later questions then check the fit again and offer their exact answers."""
    import copy

    for quantization in (quantizations if "quantization" in open_questions else [None]):
        trial, answers = copy.deepcopy(config), {}
        if quantization:
            answers["quantization"] = quantization
        if "context_length" in open_questions:
            answers["context_length"] = str(SMALLEST_CONTEXT)
        if "concurrency" in open_questions:
            answers["concurrency"] = "1"
        for question, value in answers.items():
            put_answer(engine, trial, question, value)
        try:
            if fit_verdict(engine, trial) is None:
                return answers
        except ValueError:
            continue
    return None


def put_answer(engine: str, config: dict, question: str, value: str) -> None:
    """Put one size answer into a draft's config where the template puts it (templates/stack)."""
    if engine == "ollama":
        from components.ollama.models import catalog_tag, resolve_model

        section = config["slm-deploy:ollama"]
        if question == "quantization":
            section["models"][0] = catalog_tag(resolve_model(section["models"][0]).spec, value)
        else:
            key = {"context_length": "contextLength", "concurrency": "numParallel"}[question]
            section.setdefault("server", {})[key] = int(value)
        return
    entry = config["slm-deploy:vllm" if engine == "vllm" else "slm-deploy:onnxEdge"][0]
    keys = {"quantization": "quantization" if engine == "vllm" else "variant",
            "context_length": "maxModelLen" if engine == "vllm" else "maxLength", "concurrency": "concurrency"}
    entry[keys[question]] = value if question == "quantization" else int(value)
