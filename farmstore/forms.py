"""Form helpers shared by every area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import fields
from wtforms.validators import NumberRange, Optional, StopValidation

from farmstore.errors import DomainError

PHOTO_EXTENSIONS = ["jpg", "jpeg", "png", "webp", "gif"]


def photo_field(label) -> FileField:
    """An optional photo upload; the content itself is verified by media.save_photo."""
    return FileField(label, validators=[FileAllowed(PHOTO_EXTENSIONS, _l("Choose a JPEG, PNG, WebP or GIF photo."))])


class _NumberInput:
    """A bad number gets one message saying what to type, in the user's language (not "required"
    for "abc", not a range message on top)."""

    invalid_message = None

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("invalid_value_message", self.invalid_message)
        super().__init__(label, validators, **kwargs)

    def pre_validate(self, form):
        # Something was typed and is not a number: that message alone. Nothing typed is left to
        # Optional / InputRequired.
        if self.process_errors and self.raw_data and str(self.raw_data[0]).strip():
            raise StopValidation()


class IntegerField(_NumberInput, fields.IntegerField):
    """A whole number (quantities, won, grams). Use InputRequired, not DataRequired: 0 is a value."""

    invalid_message = _l("Enter a whole number, like 3.")


class DecimalField(_NumberInput, fields.DecimalField):
    """A number that may have decimals (percentages, coordinates)."""

    invalid_message = _l("Enter a number, like 2.5.")


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
