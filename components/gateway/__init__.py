"""ModelGateway: one OpenAI endpoint per stack (vllm-router behind an authenticating nginx + njs proxy)."""
