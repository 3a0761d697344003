"""Pulumi CrossGuard policy pack applying the SLM rules (policies/rules) to resource inputs."""
