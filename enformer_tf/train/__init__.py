"""Losses, metrics, schedules and the strategy-aware training loop."""
