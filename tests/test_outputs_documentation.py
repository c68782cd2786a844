"""docs/outputs.md tells the truth: its SQLite schema is the one a run's store has, its event kinds and
fields are the records', and every README link stays inside the repository."""

import re
import sqlite3
import typing

from pipeline.records import EventKind, IdentityEvent
from pipeline.sinks.sqlite_sink import SCHEMA_VERSION, SqliteSink
from tests.conftest import REPOSITORY_ROOT

DOCUMENT = (REPOSITORY_ROOT / "docs" / "outputs.md").read_text(encoding="utf-8")


def statements(sql: str) -> set[str]:
    """CREATE statements with whitespace normalised (what sqlite_master keeps is the text as written)."""
    return {" ".join(statement.split()) for statement in sql.split(";") if statement.strip()}


def test_the_documented_schema_is_the_schema_a_store_has(tmp_path):
    documented = re.search(r"```sql\n(.*?)```", DOCUMENT, re.DOTALL).group(1)
    sink = SqliteSink(tmp_path / "tracks.sqlite", ["cam1", "cam2"], ("foreground", "head"))
    sink.close()
    with sqlite3.connect(tmp_path / "tracks.sqlite") as connection:
        stored = {row[0] for row in connection.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")}
        version = connection.execute("SELECT value FROM metadata WHERE key = 'schema_version'").fetchone()[0]
    assert statements(documented) == statements(";".join(stored))
    rows = re.findall(r"^\| (\d+) \|", DOCUMENT.split("### Schema versions")[1], re.MULTILINE)
    assert int(version) == SCHEMA_VERSION == int(rows[-1])  # the newest documented version is the one written


def test_every_event_kind_and_field_is_documented():
    section = DOCUMENT.split("## events.jsonl")[1].split("## tracks.sqlite")[0]
    fields = re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE)
    assert fields == list(IdentityEvent.__dataclass_fields__)
    for kind in typing.get_args(EventKind):
        assert f"- `{kind}`:" in section, kind


def test_no_readme_link_leaves_the_repository():
    readme = (REPOSITORY_ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)]+)\)", readme):
        if target.startswith(("http://", "https://", "#")):
            continue
        path = (REPOSITORY_ROOT / target.split("#")[0]).resolve()
        assert path.is_relative_to(REPOSITORY_ROOT) and path.exists(), target
    assert "../shared" not in readme
