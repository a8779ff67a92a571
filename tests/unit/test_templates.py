"""Attribute templates: rendered strictly and sandboxed; errors name fields, never values."""

from __future__ import annotations

import datetime

import pytest

from controller import template_fastpath, templates
from controller.errors import ProvisionerError
from controller.templates import TemplateError, check, render
from tests.fuzz.bounds import bounded

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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{{ user.UserRole }}",
            "user.UserRole is a related record, not a value; "
            "write {{ user.UserRole.Name }} instead",
        ),
        ("{{ user.Profile | lower }}", "user.Profile is a related record"),
        ("{{ user.UserRole ~ '!' }}", "user.UserRole is a related record"),
        ("{{ user.UserRole | pprint }}", "user.UserRole is a related record"),
        ("{{ '%r' | format(user.UserRole) }}", "user.UserRole is a related record"),
        ("{{ user }}", "user is the whole user, not a value; write {{ user.Email }} instead"),
        ("{{ user.Email.lower }}", "the template writes a method, not a value; call it, with ()"),
        ("{{ user.Email.lower | string }}", "the template writes an object's description"),
        ("{{ {'a': user.Email} }}", "the template writes a dict, not a value"),
    ],
)
def test_an_object_is_never_written(text: str, message: str) -> None:
    with pytest.raises(templates.NotAValue) as raised:
        render(text, FIELDS)
    assert str(raised.value).startswith(message)
    assert "Ada" not in str(raised.value)
    assert "Floor Nurse" not in str(raised.value)


def test_a_field_holding_no_value_is_never_written() -> None:
    fields = {"Email": "a@b.c", "Blob": b"\x00", "Rows": [{"a": 1}]}
    for name in ("Blob", "Rows"):
        with pytest.raises(templates.NotAValue) as raised:
            render(f"{{{{ user.{name} }}}}", fields)
        assert str(raised.value) == (
            f"user.{name} holds no text, number, date or list of them: it cannot be written"
        )


def test_a_list_is_written_as_its_values_joined_by_semicolons() -> None:
    """As a CSV users file writes PermissionSets, so both sources render the same text."""
    fields = {
        "PermissionSets": ["Billing", "Admin Tools"],
        "Ids": {3, 1},
        "Day": datetime.date(2027, 3, 31),
    }
    assert render("{{ user.PermissionSets }}", fields) == "Billing;Admin Tools"
    assert render("{{ user.PermissionSets }}", {"PermissionSets": "Billing;Admin Tools"}) == (
        "Billing;Admin Tools"
    )
    assert render("{{ user.PermissionSets | lower }}", fields) == "billing;admin tools"
    assert render("{{ user.PermissionSets | join(', ') }}", fields) == "Billing, Admin Tools"
    assert render("{% if 'Billing' in user.PermissionSets %}yes{% endif %}", fields) == "yes"
    assert render("{{ user.Ids }}/{{ user.Day }}", fields) == "1;3/2027-03-31"
    assert render("{{ user.Ids | join('+') }}", fields) == "1+3"  # a set in a stable order


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
        "PermissionSets": ["B", "A"],
        "Ids": {"3", "1", "2"},
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
    "{{ user.PermissionSets | lower }} {{ user.Ids }}",
    "{{ user.Profile }}",
    "{{ user.Email.lower }}",
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


@pytest.mark.parametrize(
    "text", ["{{ user.Email * 100000000 }}", "{{ 9 ** (9 ** 9) }}", "{{ [user.Email] * 10**6 }}"]
)
def test_an_expression_that_would_blow_up_time_or_memory_is_refused(text: str) -> None:
    with pytest.raises(TemplateError, match="refused"):
        render(text, {"Email": "ada@example.com"})


def test_small_powers_and_repeats_still_render() -> None:
    assert render("{{ 2 ** 10 }} {{ user.Email * 2 }}", {"Email": "a@b"}) == "1024 a@ba@b"


BLOW_UPS = {
    "a_huge_ljust": "{{ user.Email.ljust(10 ** 9) }}",
    "a_huge_rjust": "{{ user.Email.rjust(10 ** 9) }}",
    "a_huge_center_method": "{{ user.Email.center(10 ** 9) }}",
    "a_huge_zfill": "{{ user.Email.zfill(10 ** 9) }}",
    "a_huge_expandtabs": "{{ (user.Email ~ '\t').expandtabs(10 ** 9) }}",
    "a_huge_percent_width": "{{ '%1000000000s' % user.Email }}",
    "a_huge_percent_star": "{{ '%*s' % (10 ** 9, user.Email) }}",
    "a_huge_format_width": "{{ '{:>1000000000}'.format(user.Email) }}",
    "a_huge_format_precision": "{{ '{:.1000000000f}'.format(1.5) }}",
    "a_nested_format_width": "{{ '{:{}}'.format(user.Email, 10 ** 9) }}",
    "a_huge_format_filter": "{{ '%1000000000s' | format(user.Email) }}",
    "a_huge_replace": "{{ ('x' * 10000).replace('x', 'x' * 10000) }}",
    "a_huge_replace_filter": "{{ ('x' * 10000) | replace('x', 'x' * 10000) }}",
    "a_huge_center_filter": "{{ user.Email | center(10 ** 9) }}",
    "a_huge_indent_filter": "{{ user.Email | indent(10 ** 9) }}",
    "a_huge_truncate_filter": "{{ user.Email | truncate(10 ** 9) }}",
    "a_huge_wordwrap_filter": "{{ user.Email | wordwrap(10 ** 9) }}",
    "powers_of_powers": "{{ ((((((2 ** 64) ** 64) ** 64) ** 64) ** 64) > 1) }}",
    "nested_loops_over_big_ranges": (
        "{% for a in range(20000) %}{% for b in range(20000) %}{% endfor %}{% endfor %}x"
    ),
    "nested_loops_over_small_ranges": (
        "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}x"
    ),
    "a_loop_writing_megabytes": "{% for a in range(10000) %}{{ 'x' * 10000 }}{% endfor %}",
    "nested_loops_over_texts": (
        "{% for a in 'x' * 10000 %}{% for b in 'x' * 10000 %}{% endfor %}{% endfor %}x"
    ),
    "a_macro_calling_itself_twice": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}"
    ),
    "a_text_doubled_in_a_loop": (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
        "{% endfor %}{{ ns.s | length }}"
    ),
    "a_number_squared_in_a_loop": (
        "{% set ns = namespace(x=3) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}"
        "{% endfor %}{{ ns.x > 1 }}"
    ),
    "texts_concatenated_by_sets": (
        "{% set a = 'x' * 10000 %}{% set b = a ~ a ~ a ~ a ~ a ~ a ~ a ~ a %}"
        "{% set c = b ~ b ~ b ~ b ~ b ~ b ~ b ~ b %}{{ c | length }}"
    ),
    "a_long_text_repeated_in_a_list": "{{ (['x' * 10000] * 10000) | join | length }}",
    "a_list_grown_in_a_loop": (
        "{% set ns = namespace(l=[]) %}{% for i in range(9000) %}"
        "{% set ns.l = ns.l + ['x' * 10000] %}{% endfor %}{{ ns.l | join | length }}"
    ),
}


@pytest.mark.parametrize("text", BLOW_UPS.values(), ids=BLOW_UPS.keys())
def test_a_template_that_would_take_too_much_time_or_memory_is_refused_quickly(
    text: str,
) -> None:
    with bounded(text, seconds=5, mib=100), pytest.raises(templates.TooCostly) as raised:
        render(text, {"Email": "ada@example.com"})
    assert "refused; simplify the template" in str(raised.value)
    assert "ada" not in str(raised.value)


def test_widths_counts_powers_and_loops_a_value_needs_still_render() -> None:
    text = (
        "{{ '%05d' % 42 }} {{ '{:>6}'.format(user.Email) }} {{ user.Email | center(9) }}"
        " {{ user.Email.replace('@', '-at-') }} {{ 2 ** 64 > 1 }} {{ 2.5 ** 2 }}"
        " {{ '%d' % user.Number }} {{ user.Email.ljust(6, '.') }} {{ user.Email | truncate(9) }}"
        " {% for i in range(3) %}{% for c in 'ab' %}{{ loop.index }}{{ i }}{% endfor %}{% endfor %}"
        " {{ [user.Email] * 2 }} {{ [1] + [2] }} {{ user.Email ~ '-' ~ user.Number }}"
        " {{ '{:010d}'.format(user.Number) }}"
    )
    fields = {"Email": "a@b", "Number": 123456789}
    assert render(text, fields) == (
        "00042    a@b    a@b    a-at-b True 6.25 123456789 a@b... a@b 102011211222"
        " a@b;a@b 1;2 a@b-123456789 0123456789"
    )
