"""Account forms. Lengths are checked here; business rules (strength, uniqueness) in services."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from farmstore.accounts.models import DISPLAY_NAME_MAX

EMAIL_LENGTH = Length(max=254)
NAME_LENGTH = Length(max=DISPLAY_NAME_MAX)
PASSWORD_LENGTH = Length(max=128)


class RegisterForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), EMAIL_LENGTH])
    display_name = StringField(_l("Your name"), validators=[DataRequired(), NAME_LENGTH])
    password = PasswordField(_l("Password"), validators=[DataRequired(), PASSWORD_LENGTH])


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), EMAIL_LENGTH])
    password = PasswordField(_l("Password"), validators=[DataRequired(), PASSWORD_LENGTH])
    remember = BooleanField(_l("Keep me signed in on this device"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), PASSWORD_LENGTH])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), PASSWORD_LENGTH])


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), EMAIL_LENGTH])


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), PASSWORD_LENGTH])


class SettingsForm(FlaskForm):
    display_name = StringField(_l("Your name"), validators=[DataRequired(), NAME_LENGTH])
    phone = StringField(
        _l("Mobile number"),
        validators=[Length(max=20)],
        description=_l("Only producers you order from see it, to reach you about a pickup."),
        render_kw={"inputmode": "tel", "autocomplete": "tel", "placeholder": "010-1234-5678"},
    )
    locale = SelectField(
        _l("Language"),
        choices=[
            SelectChoice("", _l("Automatic (from your browser)")),
            SelectChoice("ko", "한국어"),
            SelectChoice("en", "English"),
        ],
    )
