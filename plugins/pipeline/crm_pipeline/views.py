from flask import Blueprint
bp = Blueprint("pipeline", __name__, url_prefix="/pipeline", template_folder="templates")
