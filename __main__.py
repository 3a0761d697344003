"""Pulumi entry point (``pulumi preview`` / ``pulumi up``): config -> gate -> components."""

from slm_deploy.program_gate import require_gate
from stacks.program import main

main(gate=require_gate)
