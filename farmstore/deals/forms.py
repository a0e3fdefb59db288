"""Forms for stalls, deals, buying coupons and taking them at the stall."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectChoice, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from farmstore.forms import IntegerField


class StallForm(FlaskForm):
    number = StringField(_l("Stall number"), validators=[Length(max=20)], description=_l("For example: 가-12."))
    location = StringField(
        _l("Where in the market"),
        validators=[Length(max=120)],
        description=_l("For example: fish alley, by the east gate."),
    )
    opens_at = TimeField(_l("Opens at"), validators=[DataRequired()])
    closes_at = TimeField(_l("Closes at"), validators=[DataRequired()])


class DealForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    story = TextAreaField(_l("About the deal"), validators=[Length(max=2000)])
    day = DateField(_l("Day of the deal"), validators=[DataRequired()])
    drop_time = TimeField(_l("Drop time"), validators=[DataRequired()], description=_l("When coupons go on sale."))
    deadline_time = TimeField(
        _l("Tipping deadline"), validators=[DataRequired()],
        description=_l("If the minimum is not bought by then, nobody pays."),
    )  # fmt: skip
    price = IntegerField(_l("Coupon price (won)"), validators=[InputRequired(), NumberRange(min=0, max=10_000_000)])
    face_value = IntegerField(
        _l("Coupon value at the stall (won)"), validators=[Optional(), NumberRange(min=1, max=10_000_000)]
    )
    item = StringField(
        _l("Or: what the coupon gets"), validators=[Length(max=120)], description=_l("For example: 사과 2 kg.")
    )
    min_coupons = IntegerField(_l("Minimum to tip"), validators=[InputRequired(), NumberRange(min=1, max=100_000)])
    cap = IntegerField(_l("Coupons in all"), validators=[InputRequired(), NumberRange(min=1, max=100_000)])
    per_buyer = IntegerField(_l("Most one buyer can take"), default=2, validators=[InputRequired(), NumberRange(min=1)])
    redeem_days = IntegerField(
        _l("Days the coupons stay valid"), default=0, validators=[InputRequired(), NumberRange(min=0, max=365)],
        description=_l("0: the same day until closing; up to 14 days."),
    )  # fmt: skip


class BuyForm(FlaskForm):
    coupons = IntegerField(_l("Coupons"), default=1, validators=[DataRequired(), NumberRange(min=1, max=100_000)])
    payment_method = RadioField(
        _l("How will you pay?"),
        choices=[
            SelectChoice("pickup", _l("At the stall, when I use the coupon")),
            SelectChoice("stripe", _l("By card: saved now, charged only if the deal tips")),
        ],
        default="pickup",
        validate_choice=False,
    )


class RedeemForm(FlaskForm):
    code = StringField(_l("Coupon code"), validators=[DataRequired(), Length(max=20)])
