"""Markdown to safe HTML: the host's renderer (crm_host.markdown), with pictures and table
alignment allowed."""

from crm_host.markdown import excerpt, plain, render

__all__ = ["excerpt", "plain", "render"]
