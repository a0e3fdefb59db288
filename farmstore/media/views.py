"""Serving stored photo renditions."""

from flask import Response, abort

from farmstore.media import bp
from farmstore.media.models import RENDITIONS, SHARE
from farmstore.media.services import ensure_share_rendition
from farmstore.media.storage import get_storage


@bp.get("/media/<prefix>/<key>/<name>.jpg")
def photo_file(prefix: str, key: str, name: str):
    """One rendition of a photo. Keys are random, so a rendition never changes: cache forever."""
    if name not in RENDITIONS or not key.isalnum() or prefix != key[:2]:
        abort(404)
    data = get_storage().get(f"{prefix}/{key}/{name}.jpg")
    if data is None and name == SHARE:  # a photo stored before share pictures existed
        data = ensure_share_rendition(prefix, key)
    if data is None:
        abort(404)
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
