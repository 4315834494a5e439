"""habot: Slack chat-ops for Osirium PAM high-availability pairs."""

__version__ = "0.1.0"
