"""Markdown to safe HTML for replies and answers: the host's renderer (crm_host.markdown)
without pictures or table alignment (replies are mailed to customers)."""

from functools import partial

from crm_host.markdown import render as _render

render = partial(_render, images=False, alignment=False)
