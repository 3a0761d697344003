"""The pinned vLLM flag list and the extra-args validator."""

from __future__ import annotations

import pytest

from components.vllm_flags import COMPONENT_OWNED, VLLM_FLAGS, validate_extra_args


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
    with pytest.raises(ValueError, match="must start with a flag"):
        validate_extra_args(["8192"])


def test_flag_list_has_the_documented_essentials():
    for flag in ("--model", "--revision", "--served-model-name", "--host", "--port", "--gpu-memory-utilization",
                 "--max-model-len", "--max-num-seqs", "--max-num-batched-tokens", "--tensor-parallel-size",
                 "--pipeline-parallel-size", "--dtype", "--kv-cache-dtype", "--quantization", "--enable-prefix-caching",
                 "--enable-chunked-prefill", "--enable-lora", "--max-loras", "--download-dir", "--trust-remote-code",
                 "--enforce-eager", "--disable-log-requests", "--enable-auto-tool-choice", "--tool-call-parser",
                 "--lora-modules"):
        assert flag in VLLM_FLAGS, flag
