"""Product form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, MultipleFileField
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from farmstore.catalog.models import CATEGORIES
from farmstore.forms import PHOTO_EXTENSIONS


class ProductForm(FlaskForm):
    name = StringField(_l("Product name"), validators=[DataRequired(), Length(max=80)])
    unit = StringField(
        _l("Unit"),
        validators=[DataRequired(), Length(max=30)],
        description=_l("What one unit is: a 10 kg box, 1 kg, one share of 16."),
    )
    category = SelectField(_l("Category"), choices=list(CATEGORIES.items()))
    subject_ids = SelectMultipleField(
        _l("Comes from"),
        coerce=int,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        description=_l("The animals and fields this product comes from: their stories appear on its page."),
    )
    description = TextAreaField(_l("Description"), validators=[Length(max=10000)])
    new_photos = MultipleFileField(
        _l("Photos (up to 8)"), validators=[FileAllowed(PHOTO_EXTENSIONS, _l("Choose JPEG, PNG, WebP or GIF photos."))]
    )
