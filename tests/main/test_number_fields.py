"""Every number a user types gets a clear message in their language when it is not a number,
and 0 is a value, not a missing field."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import Form, fields
from wtforms.fields.core import UnboundField

import farmstore
from farmstore.forms import _NumberInput
from farmstore.groupbuys.forms import GroupBuyForm, PledgeForm
from farmstore.sales.forms import PickupPointForm

NUMBER_FIELDS = (fields.IntegerField, fields.DecimalField, fields.FloatField)


def _numeric_fields():
    """(form, field name, field class) of every number field on every form of the application."""
    found = []
    for module_info in pkgutil.walk_packages(farmstore.__path__, "farmstore."):
        if not module_info.name.endswith("forms"):
            continue
        module = importlib.import_module(module_info.name)
        for _name, form in inspect.getmembers(module, inspect.isclass):
            if not issubclass(form, Form) or form.__module__ != module.__name__:
                continue
            for name, value in vars(form).items():
                if isinstance(value, UnboundField) and issubclass(value.field_class, NUMBER_FIELDS):
                    found.append((form.__name__, name, value.field_class))
    return found


def test_every_number_field_says_what_to_type():
    numeric = _numeric_fields()
    assert len(numeric) >= 15
    assert [(form, name) for form, name, cls in numeric if not issubclass(cls, _NumberInput)] == []


@pytest.mark.parametrize(
    ("language", "whole", "decimal", "at_least_one"),
    [
        (
            "ko",
            "소수점 없이 3처럼 숫자로 입력해 주세요.",
            "2.5처럼 숫자로 입력해 주세요.",
            "이 값은 최소 1 이상이어야 합니다.",
        ),
        ("en", "Enter a whole number, like 3.", "Enter a number, like 2.5.", "Number must be at least 1."),
    ],
)
def test_bad_numbers_get_one_message_in_the_users_language(app, language, whole, decimal, at_least_one):
    with app.test_request_context(headers={"Accept-Language": language}):
        group_buy = GroupBuyForm(
            formdata=MultiDict({"unit_price": "만원", "total_units": "0", "min_units": "1.5", "per_buyer_max": "0"}),
            meta={"csrf": False},
        )
        group_buy.validate()
        pledge = PledgeForm(formdata=MultiDict({"units": "two"}), meta={"csrf": False})
        pledge.validate()
        place = PickupPointForm(formdata=MultiDict({"latitude": "north"}), meta={"csrf": False})
        place.validate()
        errors = {
            name: [str(error) for error in field.errors]
            for form in (group_buy, pledge, place)
            for name, field in form._fields.items()
        }

    assert errors["unit_price"] == [whole]
    assert errors["min_units"] == [whole]
    assert errors["per_buyer_max"] == [at_least_one]  # 0 is typed: the range speaks, not "required"
    assert len(errors["total_units"]) == 1 and "1" in errors["total_units"][0]
    assert errors["total_units"][0] not in (whole, "이 항목은 필수입니다.", "This field is required.")
    assert errors["units"] == [whole]
    assert errors["latitude"] == [decimal]


def test_a_typed_zero_price_is_accepted(app):
    with app.test_request_context():
        form = GroupBuyForm(formdata=MultiDict({"unit_price": "0"}), meta={"csrf": False})
        form.validate()
    assert form.unit_price.errors == []
    assert form.unit_price.data == 0
