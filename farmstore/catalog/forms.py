"""Product form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, MultipleFileField
from wtforms import SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from farmstore.catalog.models import CATEGORIES, DESCRIPTION_MAX_LENGTH, NAME_MAX_LENGTH, UNIT_MAX_LENGTH
from farmstore.forms import PHOTO_EXTENSIONS


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
    new_photos = MultipleFileField(
        _l("Photos (up to 8)"), validators=[FileAllowed(PHOTO_EXTENSIONS, _l("Choose JPEG, PNG, WebP or GIF photos."))]
    )
