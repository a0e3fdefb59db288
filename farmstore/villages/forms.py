"""Village forms (operators)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from farmstore.forms import photo_field
from farmstore.villages.regions import REGIONS, VILLAGE_KINDS


class VillageForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    region = SelectField(_l("Region"), choices=list(REGIONS.items()))
    kind = SelectField(_l("Kind"), choices=list(VILLAGE_KINDS.items()))
    description = TextAreaField(_l("Description"), validators=[Length(max=5000)])
    cover = photo_field(_l("Cover photo"))
