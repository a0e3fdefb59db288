"""Forms for asking, answering and hiding questions."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from farmstore.evangelists.moderation import HIDDEN_REASON_MAX_LENGTH
from farmstore.forms import IntegerField
from farmstore.inquiries.models import BODY_MAX_LENGTH, KINDS, TOPICS


class QuestionForm(FlaskForm):
    """A buyer's question; the page it is asked from travels in hidden fields."""

    body = TextAreaField(_l("Your question"), validators=[DataRequired(), Length(max=BODY_MAX_LENGTH)])
    topic = SelectField(_l("About"), choices=[SelectChoice(code, label) for code, label in TOPICS.items()])
    kind = RadioField(
        _l("This is a"), choices=[SelectChoice(code, label) for code, label in KINDS.items()], default="question"
    )
    private = BooleanField(
        _l("Ask privately"),
        description=_l("Only the producer and the village's evangelist will see it and the answer."),
    )
    about_kind = HiddenField(default="producer")
    about_id = IntegerField(validators=[Optional()])


class AnswerForm(FlaskForm):
    body = TextAreaField(_l("Your answer"), validators=[DataRequired(), Length(max=BODY_MAX_LENGTH)])


class HideForm(FlaskForm):
    reason = TextAreaField(_l("Why is it hidden?"), validators=[DataRequired(), Length(max=HIDDEN_REASON_MAX_LENGTH)])
