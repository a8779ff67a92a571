"""Git credentials stay out of command lines and messages, whatever characters they hold.

`scrub` and `split_url` are pure: properties over any password (with `@`, `:`, `/`, `%`,
quotes, non-ASCII) show the URL git is given carries none of it and no message shows it.
"""

from __future__ import annotations

import base64
import urllib.parse
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from controller.policy import git
from controller.policy.git_access import Credentials, scrub, split_url

EXAMPLES = settings(max_examples=500, deadline=None)
ANY_TEXT = st.text(min_size=1)
NO_SPACE = st.text(st.characters(blacklist_categories=("Z", "Cc", "Cs")), min_size=1)
"""Characters that can stand unencoded in a URL git prints: anything but space and controls."""


def test_a_password_with_an_at_sign_is_scrubbed_whole() -> None:
    # Issue 17: the userinfo stopped at the first `@`, so `ss@host` leaked.
    assert scrub("https://user:p@ss@host/repo") == "https://***@host/repo"
    assert scrub("cannot fetch 'https://u:a@b:c/d@git.example/x.git/': 403") == (
        "cannot fetch 'https://***@git.example/x.git/': 403"
    )


@EXAMPLES
@given(user=ANY_TEXT, password=ANY_TEXT)
def test_any_percent_encoded_password_is_split_off_and_scrubbed(user: str, password: str) -> None:
    quoted = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}"
    url = f"https://{quoted}@git.example/org/policy.git"
    assert split_url(url) == ("https://git.example/org/policy.git", user, password)
    assert scrub(url) == "https://***@git.example/org/policy.git"


@EXAMPLES
@given(password=NO_SPACE)
def test_any_unencoded_password_in_a_git_message_is_scrubbed(password: str) -> None:
    said = f"fatal: unable to access 'https://user:{password}@git.example/org.git/': 403"
    assert scrub(said) == "fatal: unable to access 'https://***@git.example/org.git/': 403"


@EXAMPLES
@given(secret=ANY_TEXT, before=st.text(), after=st.text())
def test_a_known_secret_is_nowhere_in_a_scrubbed_text(secret: str, before: str, after: str) -> None:
    assume("*" not in secret)  # the mask itself is made of `*`
    text = f"{before}{secret}{after} and again {secret}"
    assert secret not in scrub(text, [secret])
    for form in (urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret)):
        assert secret not in scrub(
            f"{before}{form}{after}",
            Credentials(token=secret).access("https://git.example/x.git").secrets,
        )


def test_overlapping_secrets_are_masked_once_and_a_mask_makes_no_new_secret() -> None:
    assert scrub("xa**by", ["a**b"]) == "x***y"
    assert scrub("abcd", ["abc", "bcd"]) == "***"
    assert scrub("nothing here", ["", "absent"]) == "nothing here"


@EXAMPLES
@given(text=st.text())
def test_text_without_secrets_or_urls_is_left_alone(text: str) -> None:
    assume("://" not in text)
    assert scrub(text) == text


def test_a_url_password_becomes_a_header_in_the_environment_not_the_url() -> None:
    access = Credentials().access("https://someone:p%40ss%2Fw@git.example/org.git")
    assert access.url == "https://git.example/org.git"
    basic = base64.b64encode(b"someone:p@ss/w").decode()
    assert access.environment["GIT_CONFIG_VALUE_0"] == f"Authorization: Basic {basic}"
    assert {"p@ss/w", "p%40ss%2Fw", basic} <= set(access.secrets)


def test_a_token_wins_over_a_url_password_and_both_are_secrets() -> None:
    access = Credentials(token="tok-123").access("https://someone:url-pw@git.example/org.git")
    basic = base64.b64encode(b"x-access-token:tok-123").decode()
    assert access.environment["GIT_CONFIG_VALUE_0"] == f"Authorization: Basic {basic}"
    assert {"tok-123", "url-pw"} <= set(access.secrets)


def test_ssh_keeps_its_user_and_loses_a_password() -> None:
    assert split_url("ssh://git:pw@git.example/org.git") == (
        "ssh://git@git.example/org.git",
        "git",
        "pw",
    )
    assert split_url("git@git.example:org/policy.git")[0] == "git@git.example:org/policy.git"


def test_an_https_user_alone_is_taken_out_of_the_url_as_it_may_be_a_token() -> None:
    assert split_url("https://ghp_tok%40en@git.example/x.git") == (
        "https://git.example/x.git",
        "ghp_tok@en",
        None,
    )
    access = Credentials().access("https://ghp_tok%40en@git.example/x.git")
    assert access.url == "https://git.example/x.git"
    basic = base64.b64encode(b"ghp_tok@en:").decode()
    assert access.environment["GIT_CONFIG_VALUE_0"] == f"Authorization: Basic {basic}"
    assert "ghp_tok@en" in access.secrets


def test_the_header_follows_git_config_entries_already_in_the_environment() -> None:
    access = Credentials(token="tok-123").access("https://git.example/org.git")
    base = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.proxy", "GIT_CONFIG_VALUE_0": "p"}
    merged = access.environ(base)
    assert merged["GIT_CONFIG_COUNT"] == "2"
    assert merged["GIT_CONFIG_KEY_0"] == "http.proxy"  # the operator's own entry survives
    assert merged["GIT_CONFIG_KEY_1"] == "http.extraHeader"


def test_a_secret_in_gits_own_words_is_scrubbed(tmp_path: Path) -> None:
    token = "ghp_literal-token-value"
    git.git("init", "--quiet", str(tmp_path))
    with pytest.raises(git.GitError) as raised:
        git.git("cat-file", "-p", token, cwd=tmp_path, secrets=[token])
    message = str(raised.value)
    assert message == "git cat-file failed: fatal: Not a valid object name ***"
