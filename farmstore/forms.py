"""Form helpers shared by every area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import DecimalField
from wtforms.validators import NumberRange, Optional

from farmstore.errors import DomainError

PHOTO_EXTENSIONS = ["jpg", "jpeg", "png", "webp", "gif"]


def photo_field(label) -> FileField:
    """An optional photo upload; the content itself is verified by media.save_photo."""
    return FileField(label, validators=[FileAllowed(PHOTO_EXTENSIONS, _l("Choose a JPEG, PNG, WebP or GIF photo."))])


def reward_field() -> DecimalField:
    """The recommendation reward a producer offers on a sale or group-buy, in percent."""
    return DecimalField(
        _l("Recommendation reward (%)"),
        places=1,
        default=0,
        validators=[Optional(), NumberRange(min=0, max=100)],
        description=_l(
            "A share of what each buyer pays, given as store credit to the friends whose links brought them."
        ),
    )


def reward_bps(field: DecimalField) -> int:
    """The reward field's percent as basis points (0 when empty)."""
    return int((field.data or 0) * 100)


def show_error(form: FlaskForm, error: DomainError) -> None:
    """Put a service's error on the field it names, or on the form as a whole."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)
