# The one-pool gateway configuration every benchmark uses (sourced; defines a function only).
# Its pool is named flash-pool, which policies/prices.yaml prices.
#
# gateway_yaml PORT UPSTREAM_BASE_URL KEY [EXTRA_YAML]: one team holding KEY, one vLLM pool.
gateway_yaml() {
  cat <<YAML
listen: {host: 127.0.0.1, port: $1}
teams:
  - name: bench
    key_sha256: $(printf %s "$3" | sha256sum | cut -d' ' -f1)
targets:
  - name: flash-pool
    kind: pool
    engine: vllm
    models: [deepseek-v4-flash]
    endpoints: [$2]
${4:-}
YAML
}
