"""The pinned vLLM flag list and the extra-args validator."""

from __future__ import annotations

import re

import pytest

from components.vllm.flags import COMPONENT_OWNED, VLLM_FLAGS, validate_extra_args


def test_known_flags_pass_with_values_and_forms():
    args = ["--max-num-batched-tokens", "8192", "--enable-chunked-prefill", "--no-enable-prefix-caching",
            "--compilation-config.level", "3", "--swap-space=4", "-O", "3", "--enforce-eager"]
    assert validate_extra_args(args) == args


def test_unknown_flag_did_you_mean():
    with pytest.raises(ValueError, match=r"unknown vLLM v0.11.0 flag --enable-prefix-cache; did you mean --enable-prefix-caching\?"):
        validate_extra_args(["--enable-prefix-cache"])


def test_flag_removed_before_v011_is_unknown():
    with pytest.raises(ValueError, match="unknown vLLM v0.11.0 flag --use-v2-block-manager"):
        validate_extra_args(["--use-v2-block-manager"])


@pytest.mark.parametrize("flag", sorted(COMPONENT_OWNED))
def test_component_owned_flags_are_rejected(flag):
    with pytest.raises(ValueError, match="is set by the component; use"):
        validate_extra_args([flag, "x"])


def test_short_alias_of_owned_flag_is_rejected():
    with pytest.raises(ValueError, match="tensorParallelSize"):
        validate_extra_args(["-tp", "2"])


def test_first_token_must_be_a_flag():
    with pytest.raises(ValueError, match=r"extraArgs\[0\] '8192': extra args must start with a flag"):
        validate_extra_args(["8192"])


@pytest.mark.parametrize("args,index,message", [
    (["--swap-space", "4", "oops"], 2, "stray value; --swap-space takes a number"),
    (["--swap-space=4", "oops"], 1, "stray value; --swap-space takes a number"),
    (["--enforce-eager", "true"], 0, "--enforce-eager is a switch and takes no value, got 'true'"),
    (["--enable-prefix-caching=1"], 0, "--enable-prefix-caching is a switch and takes no value"),
    (["--max-num-batched-tokens", "abc"], 0, "--max-num-batched-tokens takes an integer"),
    (["--max-num-batched-tokens"], 0, "--max-num-batched-tokens takes an integer .* got none"),
    (["--swap-space", "lots"], 0, "--swap-space takes a number, got 'lots'"),
    (["--seed", "1.5"], 0, "--seed takes an integer or None, got '1.5'"),  # Optional[int] in 0.11.0
    (["--block-size", "7"], 0, "--block-size takes one of 1, 8, 16, 32, 64, 128, got '7'"),
    (["--scheduling-policy", "lifo"], 0, "--scheduling-policy takes one of fcfs, priority"),
    (["--enable-chunked-prefill", "--no-swap-space"], 1, "--no-swap-space is not a switch"),
    (["--cuda-graph-sizes", "1", "x"], 0, r"--cuda-graph-sizes takes one or more values \(integers\), got 'x'"),
    (["--chat-template"], 0, "--chat-template takes one value, got none"),
])
def test_value_counts_and_types(args, index, message):
    with pytest.raises(ValueError, match=rf"^extraArgs\[{index}\] {args[index]!r}: {message}"):
        validate_extra_args(args)


def test_values_of_the_right_type_pass():
    args = ["--max-num-batched-tokens", "8k", "--swap-space", "4.5", "--seed", "-1", "--block-size", "32",
            "--cuda-graph-sizes", "1", "2", "4", "--logits-processors", "a.B", "c.D", "--hf-overrides", '{"a": 1}',
            "--scheduling-policy=priority", "--compilation-config", '{"level": 3}', "--no-enable-chunked-prefill"]
    assert validate_extra_args(args) == args


def test_every_flag_has_a_kind_and_switches_are_known_flags():
    from components.vllm.flags import FLAG_KINDS

    assert set(FLAG_KINDS) == VLLM_FLAGS
    assert {k for k, v in FLAG_KINDS.items() if v == "switch"} >= {"--enforce-eager", "--enable-prefix-caching", "--trust-remote-code"}


def test_the_validator_uses_the_generated_kinds_and_their_provenance():
    """The kinds the validator checks are exactly the generated data in flags.json (nothing hand-written beside
    it), and every entry says which files of the wheel it was read from (their sha256 in ``sources``)."""
    import json

    from components.vllm.flags import FLAG_KINDS, FLAGS_FILE, KINDS

    data = json.loads(FLAGS_FILE.read_text())
    assert KINDS == data["kinds"] and FLAG_KINDS == {flag: spec["kind"] for flag, spec in data["kinds"].items()}
    assert set(data["kinds"]) == set(data["flags"])
    sources = data["sources"]
    assert {"vllm/engine/arg_utils.py", "vllm/entrypoints/openai/cli_args.py", "vllm/config/model.py"} <= set(sources)
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in sources.values())
    for flag, spec in data["kinds"].items():
        files = re.findall(r"(vllm/[\w/]+\.py):\d+", spec["from"])
        assert files and set(files) <= set(sources), (flag, spec["from"])
        assert spec["kind"] in {"switch", "store_true", "int", "size", "float", "choice", "multi", "optional", "value"}
        assert ("choices" in spec) == (spec["kind"] == "choice") or spec["kind"] == "multi", flag


@pytest.mark.parametrize("args,message", [
    (["--no-disable-log-stats"], "--no-disable-log-stats has no --no- form"),  # action="store_true"
    (["--guided-decoding-disable-fallback"], "takes one value, got none"),  # deprecated, type=bool: needs a value
    (["--mamba-cache-dtype", "fp16"], "takes one of auto, float32"),  # Literal in CacheConfig
    (["--collect-detailed-traces"], "takes one or more values"),
])
def test_generated_kinds_refuse_what_vllm_refuses(args, message):
    with pytest.raises(ValueError, match=message):
        validate_extra_args(args)


def test_generated_kinds_accept_what_vllm_accepts():
    args = ["--seed", "None", "--config-format", "my_format", "--disable-log-stats", "--guided-decoding-disable-fallback",
            "True", "--enable-multimodal-encoder-data-parallel", "--mamba-cache-dtype", "float32"]
    assert validate_extra_args(args) == args


def test_flag_list_has_the_documented_essentials():
    for flag in ("--model", "--revision", "--served-model-name", "--host", "--port", "--gpu-memory-utilization",
                 "--max-model-len", "--max-num-seqs", "--max-num-batched-tokens", "--tensor-parallel-size",
                 "--pipeline-parallel-size", "--dtype", "--kv-cache-dtype", "--quantization", "--enable-prefix-caching",
                 "--enable-chunked-prefill", "--enable-lora", "--max-loras", "--download-dir", "--trust-remote-code",
                 "--enforce-eager", "--disable-log-requests", "--enable-auto-tool-choice", "--tool-call-parser",
                 "--lora-modules"):
        assert flag in VLLM_FLAGS, flag


# --------------------------------------------------------------------------- the generated list and its provenance
def test_flag_list_is_generated_from_the_pinned_image_version():
    """flags.json comes from the vLLM wheel of the pinned image version; a bump of either alone fails here."""
    import json

    import yaml

    from components.vllm.flags import FLAGS_FILE, VLLM_VERSION

    data = json.loads(FLAGS_FILE.read_text())
    pinned = yaml.safe_load((FLAGS_FILE.parents[1] / "versions.yaml").read_text())["images"]["vllm-openai"]["tag"]
    assert pinned == f"v{data['version']}" == VLLM_VERSION, "regenerate with scripts/vllm_flags_from_wheel.py"
    assert data["wheel"].startswith(f"vllm-{data['version']}-") and len(data["sha256"]) == 64
    assert data["generator"] == "scripts/vllm_flags_from_wheel.py"
    assert all(re.fullmatch(r"vllm/(engine/arg_utils|entrypoints/openai/cli_args)\.py:\d+", src) for src in data["flags"].values())


@pytest.mark.parametrize("flag", ["--all2all-backend", "--disable-nccl-for-dp-synchronization", "--enable-mm-embeds",
                                  "--cudagraph-capture-sizes", "--aggregate-engine-logging"])
def test_flags_that_v0110_does_not_have_are_refused(flag):
    with pytest.raises(ValueError, match=f"unknown vLLM v0.11.0 flag {flag}"):
        validate_extra_args([flag])


def test_flags_that_v0110_has_are_accepted():
    assert validate_extra_args(["--video-pruning-rate", "0.5", "--enable-lora-bias"]) == [
        "--video-pruning-rate", "0.5", "--enable-lora-bias"]


def test_every_flag_the_component_emits_exists(tmp_path, synthesized):
    """The flags VllmService writes into the container args, for every reference stack, are v0.11.0 flags."""
    import yaml

    from slm_deploy.render import render

    seen = set()
    for stack in ("staging", "prod"):
        render(synthesized(stack), tmp_path / stack)  # the session's synth of the reference stack
        for manifest in (tmp_path / stack / "manifests").glob("*.deployment.*.yaml"):
            for c in yaml.safe_load(manifest.read_text())["spec"]["template"]["spec"]["containers"]:
                if c["name"] == "vllm":
                    flags = [a for a in c.get("args", []) if a.startswith("--")]
                    seen |= {a.split("=", 1)[0] for a in flags}
                    # every value the component writes has the kind the generated data gives its flag
                    args = c["args"][c["args"].index(flags[0]):]
                    assert validate_extra_args(args, component=True) == args
    assert "--model" in seen and seen <= VLLM_FLAGS, seen - VLLM_FLAGS
