"""Attribute templates: rendered strictly and sandboxed; errors name fields, never values."""

from __future__ import annotations

import pytest

from controller import template_fastpath, templates
from controller.errors import ProvisionerError
from controller.templates import TemplateError, check, render

FIELDS = {
    "Email": "Ada.Lovelace@Orion.Example",
    "FirstName": "Ada",
    "LastName": "Lovelace",
    "Profile.Name": "Standard User",
    "UserRole.Name": "Floor Nurse",
    "Title": None,
    "items": "a field that shadows a dict method",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ user.Email | lower }}", "ada.lovelace@orion.example"),
        ("{{ user.FirstName }} {{ user.LastName }}", "Ada Lovelace"),
        ("  {{ user.FirstName }}\n", "Ada"),
        ("{{ user.Profile.Name }}", "Standard User"),
        ("{{ user.UserRole.Name | upper }}", "FLOOR NURSE"),
        ("{{ user['Email'] | replace('.Example', '') }}", "Ada.Lovelace@Orion"),
        ("{{ user.Title | default('none given') }}", "none given"),
        ("{{ user.Nickname | default(user.FirstName) }}", "Ada"),
        ("{{ user.items }}", "a field that shadows a dict method"),
        ("<{{ user.FirstName }} & co>", "<Ada & co>"),
        ("static", "static"),
    ],
)
def test_render(text: str, expected: str) -> None:
    assert render(text, FIELDS) == expected


def test_a_missing_field_is_an_error_naming_the_field() -> None:
    with pytest.raises(TemplateError) as raised:
        render("{{ user.Email }} {{ user.Department }}", FIELDS)
    assert str(raised.value) == "the source user has no field Department"
    assert "Ada" not in str(raised.value)


def test_a_missing_nested_field_names_its_full_path() -> None:
    with pytest.raises(TemplateError) as raised:
        render("{{ user.Profile.Label }}", FIELDS)
    assert str(raised.value) == "the source user has no field Profile.Label"


def test_an_empty_field_is_an_error_unless_defaulted() -> None:
    with pytest.raises(TemplateError) as raised:
        render("{{ user.Title | lower }}", FIELDS)
    assert str(raised.value) == "field Title has no value"


@pytest.mark.parametrize(
    "text",
    [
        "{{ user.__class__ }}",
        "{{ user._values }}",
        "{{ user.Email.__class__.__mro__ }}",
        "{{ user.Email.format.__globals__ }}",
    ],
)
def test_the_sandbox_refuses_internals(text: str) -> None:
    with pytest.raises(TemplateError) as raised:
        render(text, FIELDS)
    assert "unsafe" in str(raised.value)
    assert "Lovelace" not in str(raised.value)


def test_other_failures_do_not_quote_values() -> None:
    for text in ("{{ user.Email + 1 }}", "{{ user.Email | round }}"):
        with pytest.raises(TemplateError) as raised:
            render(text, FIELDS)
        assert str(raised.value) == "template failed (TypeError)"


def test_template_errors_are_provisioner_errors() -> None:
    assert issubclass(TemplateError, ProvisionerError)
    with pytest.raises(TemplateError, match="syntax error"):
        render("{{ user.Email", FIELDS)


def test_check() -> None:
    assert check("{{ user.Email | lower }}") is None
    assert check("{{ user.Email | lower }") == "template syntax error: unexpected '}'"
    assert check("{{ user.Email | lowr }}") == "template syntax error: No filter named 'lowr'."
    assert check("{{ usr.Email }}") == (
        "unknown template variable usr; templates can use only `user`"
    )


def test_compiled_templates_are_cached() -> None:
    text = "{{ user.LastName }}, {{ user.FirstName }}"
    render(text, FIELDS)
    hits = templates._compile.cache_info().hits
    assert render(text, FIELDS) == "Lovelace, Ada"
    assert templates._compile.cache_info().hits == hits + 1


FIELD_SETS = [
    {
        "Email": "Ada@Example.org",
        "FirstName": "Ada",
        "LastName": " Lovelace ",
        "Title": "",
        "Profile.Name": "Standard User",
        "UserRole.Name": None,
        "IsActive": True,
        "Level__c": 3,
    },
    {"Email": "x@y.z", "Profile": "flat", "Profile.Name": "Admin"},
]
TEMPLATES = [
    "{{ user.Email | lower }}",
    "{{ user.FirstName }} {{ user.LastName }}",
    "{{ user.LastName | trim | upper }}",
    "  {{ user.Title }}  ",
    "{{ user.Profile.Name }}",
    "{{ user.UserRole.Name }}",
    "{{ user.IsActive }}-{{ user.Level__c }}",
    "{{ user.Missing }}",
    "{{ user.Manager.Email }}",
    "literal only",
]


@pytest.mark.parametrize("text", TEMPLATES)
@pytest.mark.parametrize("fields", FIELD_SETS, ids=["salesforce-like", "relationship"])
def test_the_fast_path_renders_and_fails_exactly_as_jinja(
    text: str, fields: dict[str, object]
) -> None:
    """Templates that only place fields skip Jinja (template_fastpath); same output, same error."""

    def outcome(simple: bool) -> str:
        original = template_fastpath.compile_simple
        if not simple:
            template_fastpath.compile_simple = lambda *_: None  # type: ignore[assignment]
        try:
            return templates.render(text, fields)
        except templates.TemplateError as error:
            return f"error: {error}"
        finally:
            template_fastpath.compile_simple = original  # type: ignore[assignment]

    assert template_fastpath.compile_simple(text, templates._ENVIRONMENT) is not None
    assert outcome(simple=True) == outcome(simple=False)
