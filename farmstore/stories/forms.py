"""Forms for subjects, claims and story posts."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, MultipleFileField
from wtforms import BooleanField, DateField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from farmstore.forms import PHOTO_EXTENSIONS, photo_field
from farmstore.stories.models import SUBJECT_KINDS


class SubjectForm(FlaskForm):
    kind = SelectField(_l("What is it?"), choices=[SelectChoice(code, label) for code, label in SUBJECT_KINDS.items()])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    started_on = DateField(_l("Born or planted on"), validators=[Optional()])
    breed = StringField(_l("Breed or variety"), validators=[Length(max=80)])
    location = StringField(
        _l("Where on the farm"),
        validators=[Length(max=120)],
        description=_l("In words, for example: the north slope pasture. Never an exact address."),
    )
    trace_number = StringField(
        _l("Traceability number (animals)"),
        validators=[Length(max=40)],
        description=_l("The 12-digit number on the ear tag (개체식별번호), for example 002117250633."),
    )
    description = TextAreaField(_l("About it"), validators=[Length(max=10000)])
    cover = photo_field(_l("Cover photo"))


class ClaimForm(FlaskForm):
    text = StringField(
        _l("Claim"),
        validators=[DataRequired(), Length(max=80)],
        description=_l("For example: grass-fed, no pesticides."),
    )
    certificate = photo_field(_l("Certificate photo (optional)"))


class PostForm(FlaskForm):
    happened_on = DateField(_l("Date"), validators=[Optional()])
    title = StringField(_l("Title"), validators=[Length(max=120)])
    body = TextAreaField(
        _l("Story"),
        validators=[Length(max=20000)],
        description=_l("What happened today? Markdown works: **bold**, lists, links."),
    )
    notify_pledgers = BooleanField(_l("Also email it to everyone in this subject's group-buys"))
    new_photos = MultipleFileField(
        _l("Photos (up to 8)"), validators=[FileAllowed(PHOTO_EXTENSIONS, _l("Choose JPEG, PNG, WebP or GIF photos."))]
    )
