"""REST API of the knowledge module."""

from __future__ import annotations

from crm_host.api import Blueprint

blp = Blueprint("Knowledge", __name__, url_prefix="/api/v1", description="Knowledge base")
