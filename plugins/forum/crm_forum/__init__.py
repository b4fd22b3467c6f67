"""Forum: a CRM plugin."""
