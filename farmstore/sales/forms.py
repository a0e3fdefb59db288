"""Forms for pickup points, sales, ordering, check-in and area requests."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from farmstore.forms import DecimalField, IntegerField, reward_field

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class PickupPointForm(FlaskForm):
    name = StringField(_l("Place name"), validators=[DataRequired(), Length(max=80)])
    address = StringField(_l("Address"), validators=[DataRequired(), Length(max=200)])
    area = StringField(
        _l("District"),
        validators=[DataRequired(), Length(max=40)],
        description=_l("The district buyers know it by, like Mapo-gu. Buyers ask for sales by district."),
    )
    latitude = DecimalField(_l("Latitude (optional)"), places=6, validators=[Optional()])
    longitude = DecimalField(_l("Longitude (optional)"), places=6, validators=[Optional()])
    directions = TextAreaField(_l("Directions"), validators=[Length(max=2000)])


class SaleItemForm(Form):
    product_id = HiddenField()
    price = IntegerField(_l("Price (won)"), validators=[Optional(), NumberRange(min=0, max=100_000_000)])
    quantity = IntegerField(_l("Quantity"), validators=[Optional(), NumberRange(min=0, max=100_000)])
    per_buyer_limit = IntegerField(_l("Per buyer"), validators=[Optional(), NumberRange(min=1, max=100_000)])


class SaleForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Length(max=5000)])
    pickup_point_id = SelectField(_l("Pickup point"), coerce=int, validate_choice=False)
    opens_at = DateTimeLocalField(_l("Orders open"), format=DATETIME_FORMAT, validators=[DataRequired()])
    closes_at = DateTimeLocalField(_l("Orders close"), format=DATETIME_FORMAT, validators=[DataRequired()])
    pickup_starts_at = DateTimeLocalField(_l("Pickup starts"), format=DATETIME_FORMAT, validators=[DataRequired()])
    pickup_ends_at = DateTimeLocalField(_l("Pickup ends"), format=DATETIME_FORMAT, validators=[DataRequired()])
    items = FieldList(FormField(SaleItemForm), max_entries=50)
    reward_percent = reward_field()


class OrderForm(FlaskForm):
    checkout_key = HiddenField()
    use_credit = BooleanField(_l("Use my store credit"))
    payment_method = RadioField(
        _l("How will you pay?"),
        choices=[
            SelectChoice("pickup", _l("At pickup (cash or bank transfer)")),
            SelectChoice("stripe", _l("By card now")),
            SelectChoice("toss", _l("Now by card, KakaoPay, Naver Pay or Toss Pay")),
        ],
        default="pickup",
    )
    # Asked on the review step while the account has no number yet (accounts.services.save_phone).
    phone = StringField(
        _l("Mobile number"),
        validators=[Length(max=20)],
        description=_l("Asked once: the producer sees it on the pickup list, to reach you about the pickup."),
        render_kw={"inputmode": "tel", "placeholder": "010-1234-5678"},
    )


class CheckInForm(FlaskForm):
    code = StringField(
        _l("Pickup code"),
        validators=[DataRequired(), Length(max=12)],
        description=_l("Six letters and digits; spaces and small letters are fine."),
        render_kw={"autocapitalize": "characters", "spellcheck": "false"},
    )


class CancelSaleForm(FlaskForm):
    reason = StringField(_l("Why is the sale cancelled?"), validators=[DataRequired(), Length(max=300)])


class WaitlistForm(FlaskForm):
    quantity = IntegerField(_l("How many"), default=1, validators=[InputRequired(), NumberRange(min=1, max=100_000)])


class AreaRequestForm(FlaskForm):
    area = StringField(_l("Your district"), validators=[DataRequired(), Length(max=40)])


class RefundForm(FlaskForm):
    amount = IntegerField(_l("Amount (won)"), validators=[InputRequired(), NumberRange(min=1)])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=300)])
