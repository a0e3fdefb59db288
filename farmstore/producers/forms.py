"""Producer profile form."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from farmstore.forms import photo_field


class ProducerForm(FlaskForm):
    farm_name = StringField(_l("Farm name"), validators=[DataRequired(), Length(max=80)])
    village_id = SelectField(_l("Village"), coerce=int, validate_choice=False)
    about = TextAreaField(
        _l("About your farm"),
        validators=[Length(max=10000)],
        description=_l("Who you are, what you grow or raise, and how. Markdown works: **bold**, lists, links."),
    )
    contact = StringField(
        _l("How buyers can reach you"),
        validators=[Length(max=200)],
        description=_l("For example a phone number, KakaoTalk ID or opening hours."),
    )
    photo = photo_field(_l("Photo of you or your farm"))
