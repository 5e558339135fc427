"""Every UI string comes from a message catalog, in both languages.

Reads the UI tree: each UI's catalogs and the common ones have the same keys in zh-CN and en,
no message is empty, and every key the HTML (data-i18n…) or the scripts (t("…")) name exists.
Keys built at run time (t(`live.${state}`)) are checked by the browser tests, which fail on the
"missing message" warning.
"""

from __future__ import annotations

import json
import re

import pytest

from edge.web.ui import UI_ROOT, UIS, ui_file

LOCALES = ("zh-CN", "en")
ATTRIBUTE = re.compile(r'data-i18n(?:-[a-z-]+)?="([^"$]+)"')
CALL = re.compile(r"""\bt\(\s*["']([^"'$`]+)["']""")


def catalog(folder: str, locale: str) -> dict[str, str]:
    data = json.loads((UI_ROOT / folder / "i18n" / f"{locale}.json").read_text("utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("folder", ["common", *UIS])
def test_both_languages_have_the_same_messages(folder: str) -> None:
    zh, en = (catalog(folder, locale) for locale in LOCALES)
    assert sorted(zh) == sorted(en), set(zh) ^ set(en)
    for locale, messages in zip(LOCALES, (zh, en), strict=True):
        empty = [key for key, text in messages.items() if not isinstance(text, str) or not text]
        assert not empty, (folder, locale, empty)


@pytest.mark.parametrize("ui", UIS)
def test_every_named_message_exists(ui: str) -> None:
    known = set(catalog("common", "en")) | set(catalog(ui, "en"))
    sources = [p for p in (UI_ROOT / ui).rglob("*") if p.suffix in (".html", ".js")]
    sources += [p for p in (UI_ROOT / "common").rglob("*") if p.suffix in (".html", ".js")]
    missing = {
        (path.name, key)
        for path in sources
        for pattern in (ATTRIBUTE, CALL)
        for key in pattern.findall(path.read_text("utf-8"))
        if key not in known
    }
    assert not missing


def test_ui_paths_cannot_leave_the_tree() -> None:
    assert ui_file("common/api.js") is not None
    for bad in ("", "../ui.py", "common/../../ui.py", ".x", "common/.x", "common//api.js",
                "/etc/passwd", "common\\api.js", "common/", "till/index.htm"):  # fmt: skip
        assert ui_file(bad) is None, bad
