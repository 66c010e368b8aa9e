"""The documentation people read says what exists: README stays short, every metric name it
quotes is one a running bridge serves on /metrics, every relative link leads to a file, and
every `pttbridge <command>` it shows is one `pttbridge --help` lists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
GUIDES = ["operator.md", "relay.md", "guide.zh.md", "guide.en.md"]

# A metric name as the docs quote it; not a bot's @username or a t.me/… link.
METRIC = re.compile(r"(?<![@/\w])pttbridge_[a-z0-9_]*[a-z0-9]")
# A link or image target: [text](target) — not inside code.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
SPAN = re.compile(r"`([^`\n]+)`")
# `pttbridge run`, `.venv/bin/pttbridge check`, `$ pttbridge sandbox`, `… && pttbridge …`;
# not prose nor a log line ("pttbridge is starting", "made by pttbridge 0.2.0").
COMMAND = re.compile(r"(?:^|/|\$ |&& |; |\| )pttbridge ([a-z][a-z-]*)")
PYTHON_M_BOT = re.compile(r"python -m bot ([a-z][a-z-]*)")


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def code_of(doc: str) -> list[str]:
    """Every line of code in a markdown text: fenced blocks' lines and inline spans."""
    out: list[str] = []
    for block in FENCE.findall(doc):
        out.extend(line.strip() for line in block.splitlines()[1:-1])
    out.extend(span.strip() for span in SPAN.findall(FENCE.sub("", doc)))
    return out


def test_the_docs_are_there() -> None:
    for name in GUIDES:
        assert (ROOT / "docs" / name).is_file(), name
    assert [p.name for p in DOCS[1:]] == sorted(GUIDES)


def test_readme_is_under_a_thousand_words() -> None:
    words = len(text(README).split())  # as `wc -w` counts them
    assert 300 < words < 1000, words


def test_readme_opens_with_the_two_commands() -> None:
    first_code = FENCE.search(text(README))
    assert first_code is not None
    assert "make demo" in first_code.group() and "make test" in first_code.group()


# ------------------------------------------------------------------------------ metric names


def served_names(exposition: str) -> set[str]:
    """The names a scrape may carry: each family's (from # TYPE) and each sample's; a
    histogram's _bucket, _count and _sum even before anything was observed."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            names.add(name)
            if kind == "histogram":
                names.update(name + s for s in ("_bucket", "_count", "_sum"))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def quoted_metric_names() -> dict[str, list[str]]:
    """Metric name -> the docs quoting it."""
    out: dict[str, list[str]] = {}
    for path in DOCS:
        for name in METRIC.findall(text(path)):
            out.setdefault(name, []).append(path.name)
    return out


def test_served_names_reads_the_exposition() -> None:
    exposition = (
        "# HELP x_total X\n# TYPE x_total counter\n"
        '# TYPE h histogram\nh_bucket{le="1"} 0.0\n'
        '# TYPE g gauge\ng{state="a"} 1.0\n'
    )
    assert served_names(exposition) == {"x_total", "h", "h_bucket", "h_count", "h_sum", "g"}
    assert "x" not in served_names(exposition)  # a counter's name is only with _total


async def test_every_metric_name_the_docs_quote_is_served(bot_stack: Any) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.get(bot_stack.bridge_url + "/metrics")
    assert answer.status_code == 200
    served = served_names(answer.text)
    assert "pttbridge_job_failures_total" in served
    quoted = quoted_metric_names()
    # The operator's guide lists them all, so there is something to check.
    assert "pttbridge_build_info" in quoted and "pttbridge_job_failures_total" in quoted
    wrong = {name: where for name, where in quoted.items() if name not in served}
    assert not wrong, f"not on /metrics: {wrong}; served: {sorted(served)}"
    ours = {n for n in served if not n.endswith("_created")}
    families = {n.removesuffix("_bucket") for n in ours if not n.endswith(("_count", "_sum"))}
    operator = text(ROOT / "docs" / "operator.md")
    missing = sorted(n for n in families if n not in operator)
    assert not missing, f"served but not in docs/operator.md: {missing}"


def test_a_wrong_metric_name_is_caught() -> None:
    served = served_names("# TYPE pttbridge_job_failures_total counter\n")
    assert METRIC.findall("see `pttbridge_job_failures{job=…}`") == ["pttbridge_job_failures"]
    assert "pttbridge_job_failures" not in served
    assert METRIC.findall("https://t.me/pttbridge_bot?start=x @pttbridge_bot") == []


# ------------------------------------------------------------------------------------ links


def anchors(doc: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped (word
    characters, CJK included, hyphens and spaces kept), spaces as hyphens."""
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", doc), re.M)
    }


def test_anchors_are_made_as_github_makes_them() -> None:
    assert anchors("## Upgrade and roll back\n## Callbacks: what it pushes\n## 谁在线\n") == {
        "upgrade-and-roll-back",
        "callbacks-what-it-pushes",
        "谁在线",
    }


def test_every_relative_link_leads_to_a_file_and_its_heading() -> None:
    broken: list[str] = []
    checked = 0
    for path in DOCS:
        for target in LINK.findall(FENCE.sub("", text(path))):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto:
            checked += 1
            file, _, anchor = target.partition("#")
            where = path.parent / file if file else path
            if not where.exists():
                broken.append(f"{path.name}: {target}")
            elif anchor and where.suffix == ".md" and anchor not in anchors(text(where)):
                broken.append(f"{path.name}: {target} (no such heading)")
    assert checked >= 20
    assert not broken, broken


# -------------------------------------------------------------------------------- commands


@pytest.fixture(scope="module")
def subcommands() -> set[str]:
    """The subcommands `pttbridge --help` lists (run as the program itself)."""
    out = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    names = set(re.findall(r"^    ([a-z][a-z-]*)\s", out, re.M))
    assert {"run", "check", "sandbox", "emulator"} <= names, out
    return names


def test_every_command_the_docs_show_exists(subcommands: set[str]) -> None:
    shown: dict[str, set[str]] = {}
    for path in DOCS:
        for line in code_of(text(path)):
            for name in COMMAND.findall(line) + PYTHON_M_BOT.findall(line):
                shown.setdefault(name, set()).add(path.name)
    # The rehearsal's three processes and the backup are shown somewhere.
    assert {"sandbox", "emulator", "run", "backup", "restore", "check"} <= shown.keys()
    unknown = {name: sorted(where) for name, where in shown.items() if name not in subcommands}
    assert not unknown, f"not in `pttbridge --help`: {unknown}"


def test_the_command_pattern_finds_commands_not_prose() -> None:
    assert COMMAND.findall(".venv/bin/pttbridge emulator --port 8081") == ["emulator"]
    assert COMMAND.findall("pttbridge run --env-file x") == ["run"]
    assert COMMAND.findall("INFO bot.app.run: pttbridge is starting") == []
    assert COMMAND.findall("made by pttbridge 0.2.0 (schema 8)") == []


# ------------------------------------------------------------------- API section numbers

# "2.15", "3.1" — not a version (0.1.0, Python ≥ 3.11), a time (2.5 s) or a measurement
# (1.8–2.3 ×).
SECTION = re.compile(r"(?<![\d.])(?<!≥ )([23]\.\d{1,2})(?![\d.])(?!\s*(?:s|ms|MB|km|×)(?!\w))")


def test_api_section_numbers_say_what_they_are() -> None:
    """Each API section number in README and docs/ is followed by
    what that section is: "3.1 (incident report)", "2.15 (send a notice)"."""
    bare: list[str] = []
    for path in [README, *(ROOT / "docs" / n for n in GUIDES)]:
        doc = FENCE.sub("", text(path))
        for m in SECTION.finditer(doc):
            if not re.match(r"\s?[(（]", doc[m.end() :]):
                bare.append(f"{path.name}: …{doc[max(0, m.start() - 30) : m.end() + 10]!r}")
    assert not bare, bare
    assert "3.1 (incident report)" in text(ROOT / "docs" / "relay.md")


def test_the_operators_guide_names_every_setting() -> None:
    """Every setting .env.example lists (the ones the bridge reads) has a row in
    docs/operator.md's settings table."""
    settings = re.findall(r"^([A-Z][A-Z0-9_]+)=", text(ROOT / ".env.example"), re.M)
    assert len(settings) >= 25
    operator = text(ROOT / "docs" / "operator.md")
    rows = "\n".join(line for line in operator.splitlines() if line.startswith("| `"))
    missing = [s for s in settings if f"`{s}`" not in rows]
    assert not missing, missing


# --------------------------------------------------------------------------- guides' commands

GUIDE_TABLE = {"guide.en.md": "## All commands", "guide.zh.md": "## 命令一览"}
TYPED = re.compile(r"^👤 [^:：\n]+[:：]\s*(?:（[^）]*）|\([^)]*\)\s*)?/([a-z]+)", re.M)


def table_commands(doc: str, heading: str) -> set[str]:
    """The commands named in the first column of the table under `heading`."""
    section = doc.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ")[0] for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`/([a-z]+)", row)}


def typed_commands(doc: str) -> set[str]:
    """The commands someone types in the guide's transcripts (👤 who: /command …)."""
    return set(TYPED.findall(doc))


def test_typed_commands_are_read_from_transcripts() -> None:
    doc = "👤 supervisor: /follow zs\n👤 主管：（回复上面的位置）/near 3km\n🤖 /where\n"
    assert typed_commands(doc) == {"follow", "near"}
    table = (
        "## All commands\n\n| command |\n|---|\n"
        "| `/a`, `/b <x>` \\| `/c` | who `/x` |\n## Next\n| `/d` |"
    )
    assert table_commands(table, "## All commands") == {"a", "b", "c"}


@pytest.mark.parametrize("name", sorted(GUIDE_TABLE))
def test_each_guide_lists_every_command_and_shows_it_typed(name: str) -> None:
    """Every command of the bot's table (/help, the menus) is in the guide's table of
    commands, and typed with its answer in a transcript (but /start and /cancel)."""
    from bot.telegram.commands import COMMANDS

    doc = text(ROOT / "docs" / name)
    every = {c.name for c in COMMANDS}
    listed = table_commands(doc, GUIDE_TABLE[name])
    assert listed == every, (sorted(every - listed), sorted(listed - every))
    untyped = sorted(every - {"start", "cancel"} - typed_commands(doc))
    assert not untyped, untyped
