"""Village forms (operators)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from farmstore.forms import photo_field
from farmstore.villages.models import NAME_MAX_LENGTH
from farmstore.villages.regions import REGIONS, VILLAGE_KINDS


class VillageForm(FlaskForm):
    """An operator adds or edits a village or market."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX_LENGTH)])
    region = SelectField(_l("Region"), choices=[SelectChoice(code, label) for code, label in REGIONS.items()])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(code, label) for code, label in VILLAGE_KINDS.items()])
    description = TextAreaField(_l("Description"), validators=[Length(max=5000)])
    cover = photo_field(_l("Cover photo"))
