"""Forms for group-buys and pledges."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from farmstore.forms import IntegerField, reward_field
from farmstore.sales.forms import DATETIME_FORMAT


class GroupBuyForm(FlaskForm):
    subject_id = SelectField(_l("Which animal or field"), coerce=int, validate_choice=False)
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    story = TextAreaField(_l("Story"), validators=[Length(max=10000)])
    unit_label = StringField(
        _l("One unit is"), validators=[DataRequired(), Length(max=80)], description=_l("For example: a box of 3 heads.")
    )
    unit_price = IntegerField(
        _l("Price of one unit (won)"), validators=[InputRequired(), NumberRange(min=0, max=100_000_000)]
    )
    total_units = IntegerField(_l("Units in all"), validators=[InputRequired(), NumberRange(min=1, max=1_000_000)])
    min_units = IntegerField(
        _l("Minimum to go ahead"),
        validators=[InputRequired(), NumberRange(min=1, max=1_000_000)],
        description=_l("If fewer units are pledged by the deadline, nobody pays."),
    )
    per_buyer_max = IntegerField(_l("Most one household can take"), validators=[InputRequired(), NumberRange(min=1)])
    deadline = DateTimeLocalField(_l("Deadline"), format=DATETIME_FORMAT, validators=[DataRequired()])
    pickup_point_id = SelectField(_l("Pickup point"), coerce=int, validate_choice=False)
    pickup_starts_at = DateTimeLocalField(_l("Pickup starts"), format=DATETIME_FORMAT, validators=[Optional()])
    pickup_ends_at = DateTimeLocalField(_l("Pickup ends"), format=DATETIME_FORMAT, validators=[Optional()])
    delivery_note = TextAreaField(_l("Or: how it is delivered"), validators=[Length(max=2000)])
    reward_percent = reward_field()
    price_per_kg = IntegerField(
        _l("Price per kg (won), if sold by weight"),
        validators=[Optional(), NumberRange(max=100_000_000)],
        description=_l("For an animal: each share is weighed before pickup and the difference settled."),
    )
    grams_per_unit = IntegerField(
        _l("Weight one unit assumes (grams)"),
        validators=[Optional(), NumberRange(max=100_000_000)],
        description=_l("For example 18000 for a share of about 18 kg."),
    )


class PledgeForm(FlaskForm):
    units = IntegerField(_l("Units"), default=1, validators=[InputRequired(), NumberRange(min=1, max=1_000_000)])
    show_name = BooleanField(_l("Show my first name to others in this group-buy"))
    payment_method = RadioField(
        _l("How will you pay?"),
        choices=[
            SelectChoice("pickup", _l("When I get my share (cash or bank transfer)")),
            SelectChoice("stripe", _l("By card: saved now, charged only if it is on")),
            SelectChoice("toss", _l("By card: saved now, charged only if it is on")),
        ],
        default="pickup",
        validate_choice=False,  # the service refuses a way of paying that is not offered, in words
    )


class CancelGroupBuyForm(FlaskForm):
    reason = StringField(_l("Why is it cancelled?"), validators=[DataRequired(), Length(max=300)])


class WaitlistForm(FlaskForm):
    units = IntegerField(_l("Units"), default=1, validators=[InputRequired(), NumberRange(min=1, max=1_000_000)])


class ClaimForm(FlaskForm):
    payment_method = RadioField(
        _l("How will you pay?"),
        choices=[
            SelectChoice("pickup", _l("When I get my share (cash or bank transfer)")),
            SelectChoice("stripe", _l("By card now")),
            SelectChoice("toss", _l("Now by card, KakaoPay, Naver Pay or Toss Pay")),
        ],
        default="pickup",
        validate_choice=False,
    )


class FinalWeightForm(FlaskForm):
    grams = IntegerField(_l("Final weight (g)"), validators=[Optional()])
