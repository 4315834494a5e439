"""The Slack adapter: Bolt handlers translate Slack payloads to service calls and back."""
