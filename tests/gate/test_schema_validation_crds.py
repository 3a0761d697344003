"""The vendored CRDs are parsed only for objects of their API groups (the HTTPRoute CRD is 343 KB of YAML)."""

from slm_deploy.gate.schema_validation import crd_groups, crd_kinds, has_crd, validate_objects


def test_groups_from_file_names_are_the_crds_groups():
    assert crd_groups() == {api_version.split("/", 1)[0] for api_version, _ in crd_kinds()}


def test_objects_of_other_groups_never_parse_the_crds():
    crd_kinds.cache_clear()
    pod_monitor = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
                   "metadata": {"name": "m"}, "spec": {"bogus": 1}}
    assert validate_objects({"m.yaml": pod_monitor}) == []
    assert not has_crd("keda.sh/v1alpha1", "ScaledObject")
    assert crd_kinds.cache_info().currsize == 0


def test_a_vendored_kind_is_found_and_an_unknown_kind_of_its_group_is_not():
    assert has_crd("gateway.networking.k8s.io/v1", "HTTPRoute")
    assert not has_crd("gateway.networking.k8s.io/v1", "Gateway")
