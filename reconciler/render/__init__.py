"""Output for people and machines: plans as text, JSON and Markdown; live stores as manifests."""
