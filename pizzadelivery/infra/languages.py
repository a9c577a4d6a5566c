"""The languages of the live pages' pushes: a fragment is rendered once per language (not per
socket), and each socket joins the group of the language its page was rendered in."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.utils import translation


def language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def socket_language(scope: dict[str, Any]) -> str:
    """The page's language, which it names in the socket's query string (``?lang=de``); an
    unknown or missing one is the default language."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    language = (query.get("lang") or [""])[0]
    return language if language in language_codes() else settings.LANGUAGE_CODE


def language_group(group: str, language: str) -> str:
    return f"{group}.{language}"


def in_each_language(render: Callable[[], str]) -> Iterator[tuple[str, str]]:
    """(language, what ``render`` returns with that language active), for every language."""
    for language in language_codes():
        with translation.override(language):
            yield language, render()
