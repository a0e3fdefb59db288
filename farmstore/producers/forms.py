"""Producer profile form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from farmstore.forms import photo_field
from farmstore.producers.models import CONTACT_MAX_LENGTH, FARM_NAME_MAX_LENGTH


class ProducerForm(FlaskForm):
    """A producer creates or edits their profile."""

    farm_name = StringField(_l("Farm name"), validators=[DataRequired(), Length(max=FARM_NAME_MAX_LENGTH)])
    village_id = SelectField(_l("Village"), coerce=int, validate_choice=False)
    about = TextAreaField(
        _l("About your farm"),
        validators=[Length(max=10000)],
        description=_l("Who you are, what you grow or raise, and how. Markdown works: **bold**, lists, links."),
    )
    contact = StringField(
        _l("How buyers can reach you"),
        validators=[Length(max=CONTACT_MAX_LENGTH)],
        description=_l("For example a phone number, KakaoTalk ID or opening hours."),
    )
    photo = photo_field(_l("Photo of you or your farm"))
