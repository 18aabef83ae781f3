"""reconciler: GitOps for LaunchDarkly big segment store integrations."""

__version__ = "0.1.0"
