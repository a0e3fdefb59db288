"""Forms for adopting a village, inviting producers, and the operators' decisions."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from farmstore.evangelists.models import MOTIVATION_MAX_LENGTH, NOTE_MAX_LENGTH, REASON_MAX_LENGTH
from farmstore.evangelists.moderation import HIDDEN_REASON_MAX_LENGTH
from farmstore.producers.models import CONTACT_MAX_LENGTH, FARM_NAME_MAX_LENGTH


class ApplyForm(FlaskForm):
    """A user asks to adopt a village."""

    motivation = TextAreaField(
        _l("Why do you want to adopt this village?"),
        validators=[DataRequired(), Length(max=MOTIVATION_MAX_LENGTH)],
        description=_l("A few sentences for the operators: how you know the village and how you can help."),
    )


class DeclineForm(FlaskForm):
    """An operator declines an application, optionally saying why."""

    reason = TextAreaField(_l("Reason (sent to the applicant)"), validators=[Length(max=REASON_MAX_LENGTH)])


class HandoverForm(FlaskForm):
    """The evangelist names a successor."""

    email = EmailField(_l("Your successor's email"), validators=[DataRequired()])


class InvitationForm(FlaskForm):
    """The evangelist invites a producer."""

    note = StringField(
        _l("Who is it for?"),
        validators=[Length(max=NOTE_MAX_LENGTH)],
        description=_l("Only you see this, e.g. Mrs Park of the tea farm."),
    )


class JoinForm(FlaskForm):
    """A new producer fills in their farm through an invitation."""

    farm_name = StringField(_l("Farm name"), validators=[DataRequired(), Length(max=FARM_NAME_MAX_LENGTH)])
    about = TextAreaField(_l("About your farm"), validators=[Length(max=10000)])
    contact = StringField(_l("How buyers can reach you"), validators=[Length(max=CONTACT_MAX_LENGTH)])


class CodeForm(FlaskForm):
    """Someone types the invitation code they were given."""

    code = StringField(_l("Invitation code"), validators=[DataRequired(), Length(max=40)])


class VerifyForm(FlaskForm):
    """An operator records a farm visit."""

    visited_on = DateField(_l("Day of the farm visit"), validators=[Optional()])


class HideContentForm(FlaskForm):
    """An operator hides a story post or product with a reason."""

    reason = TextAreaField(
        _l("Why is it hidden?"),
        validators=[DataRequired(), Length(max=HIDDEN_REASON_MAX_LENGTH)],
        description=_l("The owner reads this."),
    )
