"""The SSH adapter: asyncssh on the outside, habot's errors and results on the inside."""
