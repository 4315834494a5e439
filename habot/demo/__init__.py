"""`habot demo`: the real bot, simulated pairs and a local Slack-like page, on one laptop."""
