"""Channels: a CRM plugin."""
