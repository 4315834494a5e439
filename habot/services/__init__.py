"""The service layer that the CLI and the Slack handlers share."""
