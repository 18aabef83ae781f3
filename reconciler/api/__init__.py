"""The LaunchDarkly REST API: the only package that speaks HTTP (and imports httpx)."""
