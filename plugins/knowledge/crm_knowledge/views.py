"""HTML pages of the knowledge module (thin: services hold the rules)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("knowledge", __name__, url_prefix="/knowledge", template_folder="templates")
admin_bp = Blueprint("knowledge_admin", __name__, url_prefix="/admin/knowledge")


@bp.route("/")
def index():
    return "knowledge"


@bp.route("/articles/<int:article_id>")
def article(article_id):
    return str(article_id)


@bp.route("/products")
def products():
    return "products"


@bp.route("/competitors")
def competitors():
    return "competitors"


@bp.route("/competitors/<int:competitor_id>")
def competitor(competitor_id):
    return str(competitor_id)


@bp.route("/documents")
def documents():
    return "documents"


@admin_bp.route("/categories")
def categories():
    return "categories"


@admin_bp.route("/packs")
def packs():
    return "packs"


def popular_widget_html():
    return ""
