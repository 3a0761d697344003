"""checkov external checks for SLM policies (load with external_checks_dir=["policies/checks"]).

checkov execs every module here by file name; do not import `policies.checks.*` as a package
alongside that, or each check registers twice.
"""
