"""bot.render.text: escaping, Telegram's length, splitting and captions.

The HTML checks use the standard library's HTMLParser, not bot.render.text, so the
splitter is judged by an independent reader.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from conftest import examples
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.render.text import (
    CUT_WHITESPACE,
    Html,
    esc,
    esc_attr,
    split_html,
    truncate_caption,
    utf16_len,
    visible_len,
    visible_text,
)

Stack = tuple[tuple[str, tuple[tuple[str, str | None], ...]], ...]


class _Reader(HTMLParser):
    """Every visible character with the tags (and attributes) around it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, tuple[tuple[str, str | None], ...]]] = []
        self.chars: list[tuple[str, Stack]] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack.append((tag, tuple(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]!r}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        here = tuple(self.stack)
        self.chars.extend((ch, here) for ch in data)


def read(html: str) -> _Reader:
    r = _Reader()
    r.feed(html)
    r.close()
    return r


def assert_balanced(html: str) -> None:
    r = read(html)
    assert not r.errors, (html, r.errors)
    assert not r.stack, (html, r.stack)


def text_of(html: str) -> str:
    return "".join(ch for ch, _ in read(html).chars)


def assert_parts_cover(html: str, parts: list[str]) -> None:
    """The parts' characters, each with its formatting, are the input's in order,
    apart from whitespace (CUT_WHITESPACE) removed between parts or at the ends."""
    orig = read(html).chars
    pos = 0
    for part in parts:
        got = read(part).chars
        assert got, part
        while pos < len(orig) and orig[pos] != got[0] and orig[pos][0] in CUT_WHITESPACE:
            pos += 1
        assert orig[pos : pos + len(got)] == got, (html, parts, part)
        pos += len(got)
    assert all(ch in CUT_WHITESPACE for ch, _ in orig[pos:]), (html, parts)


def check_split(html: str, limit: int, raw_limit: int | None = None) -> list[str]:
    parts = split_html(html, limit, raw_limit)
    bound = 8 * limit if raw_limit is None else raw_limit
    for part in parts:
        assert_balanced(part)
        shown = text_of(part)
        assert utf16_len(shown) <= limit, (part, limit)
        assert visible_len(part) == utf16_len(shown)
        assert any(ch not in CUT_WHITESPACE for ch in shown), part
        assert len(part) <= bound or len(shown) == 1, (part, bound)
    assert_parts_cover(html, parts)
    return parts


# -- utf16_len, esc, visible_len ------------------------------------------------


@pytest.mark.parametrize(
    ("s", "n"),
    [("", 0), ("a", 1), ("中文", 2), ("😀", 2), ("𝄞x", 3), ("👨\u200d👩\u200d👧", 8), ("🇨🇳", 4)],
)
def test_utf16_len(s: str, n: int) -> None:
    assert utf16_len(s) == n


def test_esc() -> None:
    assert esc(None) == ""
    assert isinstance(esc("x"), Html)  # already HTML: the translator will not escape it again
    assert isinstance(esc(None), Html)
    assert esc(5) == "5"
    assert esc('<b>"A&B"</b>') == '&lt;b&gt;"A&amp;B"&lt;/b&gt;'
    assert esc_attr('a"b&c') == "a&quot;b&amp;c"
    assert esc_attr(None) == ""


@pytest.mark.parametrize(
    ("html", "n"),
    [
        ("<b>a&amp;b</b>", 3),
        ("&lt;&gt;&quot;&amp;", 4),
        ("&#128512;", 2),
        ("&#x1F600;x", 3),
        ('<a href="https://t.me/x?a=1&amp;b=2">link</a>', 4),
        ('<pre><code class="language-python">x = 1</code></pre>', 5),
        ("a < b", 5),  # a lone "<" is a character
        ("&nbsp;", 6),  # not an entity Telegram knows
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', 2),
        ("<blockquote expandable>中文</blockquote>", 2),
    ],
)
def test_visible_len(html: str, n: int) -> None:
    assert visible_len(html) == n


def test_visible_text_decodes_entities_and_drops_tags() -> None:
    assert visible_text("<i>1 &lt; 2 &amp;&amp; &quot;x&quot;</i> &#10;") == '1 < 2 && "x" \n'


def test_html_is_a_str() -> None:
    h = Html("<b>x</b>")
    assert isinstance(h, str)
    assert h == "<b>x</b>"


# -- split_html: examples --------------------------------------------------------


def test_short_text_is_returned_unchanged() -> None:
    html = "  <b>hello</b>\n"
    assert split_html(html) == [html]


@pytest.mark.parametrize("html", ["", "   ", "\n\n", "<b> </b>", "<b></b>"])
def test_nothing_visible_gives_no_parts(html: str) -> None:
    assert split_html(html) == []


def test_limit_must_hold_an_astral_character() -> None:
    with pytest.raises(ValueError):
        split_html("abc", 1)


def test_prefers_blank_lines() -> None:
    para = "word " * 7 + "end."  # 39 characters
    html = "\n\n".join([para] * 4)
    parts = check_split(html, 100)
    assert parts == ["\n\n".join([para] * 2)] * 2


def test_prefers_newlines_over_spaces() -> None:
    line = "alpha beta gamma"  # 16
    html = "\n".join([line] * 10)
    parts = check_split(html, 40)
    assert all(p == f"{line}\n{line}" for p in parts)


def test_prefers_spaces_over_anywhere() -> None:
    html = " ".join(["abcdefg"] * 20)
    parts = check_split(html, 20)
    assert all(p.startswith("abcdefg") and p.endswith("abcdefg") for p in parts)


def test_cuts_chinese_after_punctuation() -> None:
    sentence = "今天巡逻一组全员在线。"  # 11
    html = sentence * 10
    parts = check_split(html, 30)
    assert all(p.endswith("。") for p in parts)
    assert "".join(parts) == html


def test_never_splits_a_long_word_inside_an_entity_or_a_pair() -> None:
    html = "&amp;😀x" * 50
    for limit in (2, 3, 5, 9):
        for part in check_split(html, limit):
            assert re.fullmatch(r"(?:&amp;|😀|x)+", part), part


def test_does_not_cut_inside_an_emoji_sequence_when_it_can_help_it() -> None:
    family = "👨\u200d👩\u200d👧"  # 8 units
    parts = check_split(("ab" + family) * 6, 12)
    for part in parts:
        assert part.count("\u200d") % 2 == 0, part
    flags = "🇨🇳🇺🇸🇩🇪" * 5
    for part in check_split(flags, 10):
        assert len(part) % 2 == 0  # whole flags only


def test_reopens_tags_with_their_attributes() -> None:
    href = "https://example.com/?a=1&amp;b=&quot;2&quot;"
    html = f'<b>bold <a href="{href}">' + "link text " * 20 + "</a> tail</b>"
    parts = check_split(html, 50)
    assert len(parts) > 2
    for part in parts[1:-1]:
        assert part.startswith(f'<b><a href="{href}">'), part
        assert part.endswith("</a></b>"), part


def test_pre_code_block_is_reopened_with_its_language() -> None:
    code = "\n".join(f"print({i})" for i in range(40))
    html = f'Code:\n<pre><code class="language-python">{code}</code></pre>'
    parts = check_split(html, 100)
    for part in parts[1:]:
        assert part.startswith('<pre><code class="language-python">'), part


def test_no_empty_elements_at_the_cut() -> None:
    html = "one two<b> three</b> four <i>five</i>\n\n<u>six</u>"
    for limit in range(3, 30):
        for part in check_split(html, limit):
            assert not re.search(r"<(\w+)[^>]*></\1>", part), part


def test_tg_emoji_is_kept_whole() -> None:
    emoji = '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    html = ("ok" + emoji) * 30
    for part in check_split(html, 9):
        assert part.count("<tg-emoji") == part.count("👍"), part


def test_a_long_whitespace_run_is_dropped_at_the_cut() -> None:
    html = "head" + " " * 5000 + "tail"
    assert check_split(html, 100) == ["head", "tail"]


def test_raw_limit() -> None:
    html = '<a href="https://example.com/a/very/long/link">x</a> ' * 100
    for raw_limit in (40, 100, 1000):
        check_split(html, 4096, raw_limit)


def test_realistic_online_list_splits_at_lines() -> None:
    lines = [
        f"🟢 <b>{esc('张三<' + str(i) + '>')}</b> · zhangsan{i} · 巡逻一组" for i in range(400)
    ]
    html = "<b>在线</b>\n" + "\n".join(lines)
    parts = check_split(html, 4096)
    assert len(parts) > 1
    for part in parts[1:]:
        assert part.startswith("🟢 <b>")
    for part in parts:
        assert visible_len(part) > 4096 // 2 or part is parts[-1]


# -- split_html: properties ------------------------------------------------------

WORDS = st.sampled_from(
    [
        "hello",
        "world",
        "a",
        "Telegram",
        "x&y",
        "a<b",
        'say "hi"',
        "巡逻一组",
        "张三",
        "今天全员在线。",
        "你好，",
        "😀",
        "👨\u200d👩\u200d👧",
        "🇨🇳🇺🇸",
        "e\u0301",
        "𝄞",
        "\u00a0",
        "\u3000",
        "https://t.me/pttbridge_bot?start=abc_DEF-123",
    ]
)
SEPARATORS = st.sampled_from(["", " ", " ", "\n", "\n\n", "  ", " \n \n", "\t"])
PLAIN = st.lists(st.tuples(WORDS, SEPARATORS), max_size=10).map(
    lambda ws: esc("".join(w + s for w, s in ws))
)
FUZZ = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), max_codepoint=0x1FFFF) | st.just("\n"),
    max_size=30,
).map(esc)
ENTITIES = st.sampled_from(["&#128512;", "&#x1F1E8;&#x1F1F3;", "&quot;", "&#10;", "&#32;", "&amp;"])
EMOJI = st.just('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>')
TAGS = st.sampled_from(
    [
        ("b", ""),
        ("strong", ""),
        ("i", ""),
        ("u", ""),
        ("s", ""),
        ("code", ""),
        ("pre", ""),
        ("blockquote", ""),
        ("blockquote", " expandable"),
        ("a", ' href="https://example.com/?a=1&amp;b=&quot;2&quot;"'),
        ("a", " href='tg://user?id=123'"),
        ("span", ' class="tg-spoiler"'),
        ("tg-spoiler", ""),
    ]
)


def _element(tag: tuple[str, str], children: list[str]) -> str:
    name, attrs = tag
    return f"<{name}{attrs}>{''.join(children)}</{name}>"


NODES = st.recursive(
    PLAIN | FUZZ | ENTITIES | EMOJI,
    lambda kids: st.builds(_element, TAGS, st.lists(kids, max_size=4)),
    max_leaves=40,
)
DOCUMENTS = st.lists(NODES, max_size=8).map("".join)


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS, st.integers(min_value=2, max_value=120))
def test_split_properties(html: str, limit: int) -> None:
    check_split(html, limit)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS, st.integers(min_value=2, max_value=60), st.integers(min_value=1, max_value=300))
def test_split_properties_with_raw_limit(html: str, limit: int, raw_limit: int) -> None:
    check_split(html, limit, raw_limit)


@settings(max_examples=examples(200), deadline=None)
@given(DOCUMENTS)
def test_visible_text_agrees_with_htmlparser(html: str) -> None:
    assert visible_text(html) == text_of(html)
    assert visible_len(html) == utf16_len(text_of(html))


# -- truncate_caption --------------------------------------------------------------


def test_short_caption_is_unchanged() -> None:
    assert truncate_caption("<b>track</b> 12 km", 1024) == "<b>track</b> 12 km"


def test_long_caption_is_cut_at_a_word_and_closed() -> None:
    html = "<b>Track of " + esc("张三 <zs>") + "</b>\n<i>" + "point " * 300 + "</i>"
    out = truncate_caption(html, 1024)
    assert out.endswith("</i>…")
    assert visible_len(out) <= 1024
    assert visible_len(out) > 1024 - 10
    assert_balanced(out)
    assert text_of(out).removesuffix("…").endswith("point")


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS, st.integers(min_value=3, max_value=100))
@example(" " * 30 + "<b>fire</b>", 10)  # only the leading whitespace is too much
def test_caption_properties(html: str, limit: int) -> None:
    out = truncate_caption(html, limit)
    assert visible_len(out) <= limit
    assert_balanced(out)
    original = text_of(html).lstrip("".join(CUT_WHITESPACE))
    if out != html and text_of(out) != original:  # else only leading whitespace went
        assert out.endswith("…")
        assert original.startswith(text_of(out)[:-1])


@given(st.text(alphabet=st.sampled_from(list("ab 中😀<>/&;#x0123bi=\"'\n")), max_size=60))
def test_visible_text_is_what_the_atoms_show(html: str) -> None:
    from bot.render.text import _atoms

    assert visible_text(html) == "".join(a.text for a in _atoms(html))
