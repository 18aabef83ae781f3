"""The data plane check: read Redis or DynamoDB directly, report whether LaunchDarkly syncs."""
