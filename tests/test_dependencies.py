"""The locked environment is the one docs/facts.md says works (not the 3.1.47 fallback)."""

from importlib.metadata import version

from packaging.version import Version


def test_checkov_is_current_3_3():
    assert Version(version("checkov")) >= Version("3.3")


def test_pulumi_and_packaging_override():
    assert Version(version("pulumi")) >= Version("3.224")
    assert Version(version("packaging")) >= Version("26")


def test_no_openai_028_pulled_in_by_old_checkov():
    from importlib.metadata import PackageNotFoundError

    try:
        assert not version("openai").startswith("0.28")
    except PackageNotFoundError:
        pass


def test_tests_run_the_engine_the_edge_image_pins():
    """The live edge-server tests use the onnxruntime-genai / onnxruntime the server image installs."""
    from pathlib import Path

    pins = {}
    for line in (Path(__file__).parents[1] / "components/onnx_edge/server/requirements.in").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, pinned = line.split("==")
            pins[name.strip()] = pinned.strip()
    for name in ("onnxruntime-genai", "onnxruntime"):
        assert version(name) == pins[name], name
