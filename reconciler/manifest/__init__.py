"""Reading manifests: YAML with positions, schema and field rules, safety settings."""
