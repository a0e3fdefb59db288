"""Product form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, MultipleFileField
from wtforms import DateField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from farmstore.catalog.labelling import MAX_GRAMS
from farmstore.catalog.models import (
    CATEGORIES,
    DESCRIPTION_MAX_LENGTH,
    INGREDIENTS_MAX_LENGTH,
    NAME_MAX_LENGTH,
    ORIGIN_MAX_LENGTH,
    STORAGE_MAX_LENGTH,
    UNIT_MAX_LENGTH,
)
from farmstore.forms import PHOTO_EXTENSIONS, IntegerField


class ProductForm(FlaskForm):
    """A product's fields; the service checks the rules (own subjects only) again."""

    name = StringField(_l("Product name"), validators=[DataRequired(), Length(max=NAME_MAX_LENGTH)])
    unit = StringField(
        _l("Unit"),
        validators=[DataRequired(), Length(max=UNIT_MAX_LENGTH)],
        description=_l("What one unit is: a 10 kg box, 1 kg, one share of 16."),
    )
    category = SelectField(_l("Category"), choices=[SelectChoice(code, label) for code, label in CATEGORIES.items()])
    subject_ids = SelectMultipleField(
        _l("Comes from"),
        coerce=int,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        description=_l("The animals and fields this product comes from: their stories appear on its page."),
    )
    description = TextAreaField(_l("Description"), validators=[Length(max=DESCRIPTION_MAX_LENGTH)])
    # Label facts: what the listing rules ask a food to state; each may be left empty.
    weight_grams = IntegerField(
        _l("Weight per pack (g)"),
        validators=[
            Optional(),
            NumberRange(min=1, max=MAX_GRAMS, message=_l("Give the weight in grams, from 1 to 1,000,000.")),
        ],
        description=_l("For example 2000 for a 2 kg box."),
    )
    origin = StringField(
        _l("Origin"), validators=[Length(max=ORIGIN_MAX_LENGTH)], description=_l("For example: 국내산 (강원 평창).")
    )
    trace_number = StringField(
        _l("Traceability or lot number (meat)"),
        validators=[Length(max=40)],
        description=_l("The animal's 12-digit number, or the lot number that starts with L, as on the label."),
    )
    grade = StringField(_l("Grade"), validators=[Length(max=20)], description=_l("For example 1++ 9 for beef."))
    packed_on = DateField(_l("Packed on"), validators=[Optional()])
    use_by = DateField(_l("Use-by or best-before date"), validators=[Optional()])
    storage = StringField(
        _l("Storage"), validators=[Length(max=STORAGE_MAX_LENGTH)], description=_l("For example: refrigerated, 0–4 °C.")
    )
    ingredients = StringField(
        _l("Ingredients (processed food)"),
        validators=[Length(max=INGREDIENTS_MAX_LENGTH)],
        description=_l("For tea and kimchi: what is in it, with the origin of each."),
    )
    new_photos = MultipleFileField(
        _l("Photos (up to 8)"), validators=[FileAllowed(PHOTO_EXTENSIONS, _l("Choose JPEG, PNG, WebP or GIF photos."))]
    )
