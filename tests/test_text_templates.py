"""Message text with variables (messaging/text_templates.py): what a saved reply or a campaign
template turns into."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging.text_templates import placeholders, render, variable_name

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def test_placeholders_are_listed_once_in_order_of_first_use():
    body = "Hi {first_name}, your {item} ships {when}. Thanks, {first_name}! {item}"
    assert placeholders(body) == ["first_name", "item", "when"]


def test_a_text_without_braces_has_no_placeholders():
    assert placeholders("See you at 5, bring the 🎂") == []


def test_doubled_braces_are_literal_braces_not_placeholders():
    assert placeholders("Reply {{YES}} or {{NO}}") == []
    assert render("Reply {{YES}} or {{NO}}", {"YES": "x"}) == "Reply {YES} or {NO}"


def test_a_placeholder_inside_literal_braces_is_still_filled():
    assert render("{{{code}}}", {"code": "42"}) == "{42}"


@pytest.mark.parametrize("body", ["{ }", "{a-b}", "{1st}", "{", "}", "{first name}", "{é}"])
def test_braces_around_something_that_is_not_a_name_are_kept_as_typed(body):
    assert placeholders(body) == []
    assert render(body, {"a": "x"}) == body


def test_render_fills_every_use_of_each_placeholder():
    body = "Hi {first_name} from {company}. {first_name}, reply STOP to opt out."
    text = render(body, {"first_name": "Ana", "company": "Acme"})
    assert text == "Hi Ana from Acme. Ana, reply STOP to opt out."


def test_a_placeholder_with_no_value_renders_empty():
    assert render("Hi {first_name}, about {order}", {"order": "#12"}) == "Hi , about #12"


def test_values_are_inserted_as_is_and_never_rendered_again():
    text = render("Hi {name}", {"name": "{company} {{x}}", "company": "Acme"})
    assert text == "Hi {company} {{x}}"


def test_names_are_case_sensitive():
    assert render("{Name} {name}", {"name": "b"}) == " b"


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("First Name", "first_name"),
        ("first_name", "first_name"),
        ("  Company  ", "company"),
        ("E-mail address", "e_mail_address"),
        ("Café", "cafe"),
        ("ZIP/Postal code", "zip_postal_code"),
        ("2nd line", "_2nd_line"),
        ("Order #", "order"),
        ("__private__", "private"),
        ("Straße", "strasse"),
        ("\ufeffphone", "phone"),
        ("電話", ""),
        ("", ""),
    ],
)
def test_a_column_header_becomes_a_placeholder_name(header, name):
    assert variable_name(header) == name


def test_a_csv_column_can_be_used_as_a_placeholder():
    row = {"First Name": "Ana", "Last Name": "Silva"}
    variables = {variable_name(header): value for header, value in row.items()}
    assert render("Hi {first_name} {last_name}", variables) == "Hi Ana Silva"


texts = st.text(alphabet=st.sampled_from("ab_1 {}é\n"), max_size=40) | st.text(max_size=40)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(body=texts)
def test_placeholders_are_unique_names(body):
    found = placeholders(body)
    assert len(found) == len(set(found))
    assert all(NAME.fullmatch(name) for name in found)
    assert all("{" + name + "}" in body for name in found)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(body=texts, values=st.dictionaries(st.sampled_from(["a", "b", "_1"]), st.text(max_size=5)))
def test_rendering_never_fails_and_a_text_without_placeholders_keeps_its_words(body, values):
    text = render(body, values)
    assert isinstance(text, str)
    if "{" not in body and "}" not in body:
        assert text == body


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    body=st.text(alphabet=st.sampled_from("ab_1 {}x"), max_size=40).filter(
        lambda b: "{{" not in b and "}}" not in b
    ),
    value=st.text(alphabet=st.sampled_from("xyz 9"), max_size=5),
)
def test_once_every_placeholder_has_a_value_none_is_left(body, value):
    # A value holding a space cannot join the text around it into a new `{name}`.
    variables = dict.fromkeys(placeholders(body), f" {value} ")
    assert placeholders(render(body, variables)) == []


@settings(max_examples=300, derandomize=True, deadline=None)
@given(header=st.text(max_size=30))
def test_every_header_becomes_a_usable_name_or_nothing(header):
    name = variable_name(header)
    assert name == "" or NAME.fullmatch(name)
    assert variable_name(name) == name
    if name:
        assert placeholders("{" + name + "}") == [name]
        assert render("{" + name + "}", {name: "v"}) == "v"
