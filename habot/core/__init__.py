"""The pure core: plain functions on frozen dataclasses. No I/O, no clock, no Slack types."""
