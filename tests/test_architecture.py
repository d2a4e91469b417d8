"""The architecture, checked: the import rules (import-linter contracts in
pyproject.toml) and "no SQL outside the storage package" (cstool/storage/)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("cstool", "commands", "tui")  # the packages whose modules may hold no SQL...
STORAGE = "cstool/storage/"  # ...except the storage package's


# -- the import rules -----------------------------------------------------------------------


def test_the_import_contracts_are_kept():
    """cstool never imports commands/ or tui/; only the server and the CLI import the
    server; tui/ never imports commands/ or the server; cstool.api imports no
    implementation (the contracts: [tool.importlinter] in pyproject.toml)."""
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-cache", "--no-logo"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
    assert done.stdout.count(" KEPT") >= 4, done.stdout


# -- no SQL outside the storage package ------------------------------------------------------

DB_CALLS = {"execute", "executemany", "executescript"}
# SQL statements and clauses as this code writes them (keywords in capitals); prose that
# happens to use one of these words in capitals (a docstring, a message) does not match
# the shapes below, and docstrings are not looked at.
SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b"
    r"|\bSELECT\s+(?:COUNT|MAX|MIN|SUM|AVG|DISTINCT|1\b|\*|\?|\w+\s*\()"
    r"|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b"
    r"|\bREPLACE\s+INTO\b"
    r"|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b"
    r"|\b(?:CREATE|DROP)\s+(?:UNIQUE\s+|TEMP\s+|TEMPORARY\s+|VIRTUAL\s+)?"
    r"(?:TABLE|INDEX|VIEW|TRIGGER)\b"
    r"|\bALTER\s+TABLE\b"
    r"|\bPRAGMA\s+\w+"
    r"|\bBEGIN\s+(?:IMMEDIATE|EXCLUSIVE|DEFERRED|TRANSACTION)\b"
    r"|\b(?:LEFT\s+|INNER\s+|CROSS\s+)?JOIN\s+\w+(?:\s+\w+)?\s+ON\b"
    r"|\bWHERE\s+[\w.()]+\s*(?:=|!=|<>|<=|>=|<|>|\bIN\b|\bIS\b|\bLIKE\b|\bBETWEEN\b)"
    r"|\bWHERE\s+(?:NOT\s+)?EXISTS\b"
    r"|\b(?:ORDER|GROUP)\s+BY\s+[\w.]+"
    r"|\bON\s+CONFLICT\b"
    r"|\bVALUES\s*\(\s*\?"
    r"|\bAND\s+[\w.]+\s*(?:=|IN\b|IS\b)\s*(?:\?|NULL|\()"
    r"|\bLIMIT\s+(?:\?|\d+)\b"
)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of a module, its classes and functions."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value,
                                                                       ast.Constant):
                out.add(id(body[0].value))
    return out


def sql_in(source: str) -> list[str]:
    """Where ``source`` holds SQL: a database call (``.execute(``, ``.executemany(``,
    ``.executescript(``) or a string literal (plain or f-string, the parts joined) that
    reads as SQL. Docstrings are prose and not looked at."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in DB_CALLS):
            found.append(f"line {node.lineno}: .{node.func.attr}(")
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else " x "
                           for v in node.values)
            if SQL.search(text):
                found.append(f"line {node.lineno}: {text[:60]!r}")
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in skip and SQL.search(node.value)):
            found.append(f"line {node.lineno}: {node.value[:60]!r}")
    return found


def modules_with_sql() -> dict[str, list[str]]:
    """Every scanned module outside the storage package that holds SQL, with where."""
    out = {}
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name.startswith(STORAGE):
                continue
            found = sql_in(path.read_text(encoding="utf-8"))
            if found:
                out[name] = found
    return out


def test_no_module_outside_the_storage_package_holds_sql():
    found = {name: where[:3] for name, where in modules_with_sql().items()}
    assert not found, f"SQL outside cstool/storage/ (move it into the storage package): {found}"


def test_the_storage_package_is_where_sql_is_found():
    assert any(sql_in(p.read_text(encoding="utf-8"))
               for p in (ROOT / STORAGE).rglob("*.py"))


def test_the_sql_detector_finds_sql_in_every_form():
    found = [
        'conn.execute(query)',
        'self.database.conn.executemany(sql, rows)',
        'c.executescript(SCRIPT)',
        'Q = "SELECT id, key FROM shops WHERE key = ?"',
        'Q = ("SELECT c.id FROM conversations c "\n     "JOIN shops s ON s.id = c.shop_id")',
        'q = f"SELECT {cols} FROM {table} WHERE id = ?"',
        'q = f"UPDATE {table} SET x = ?"',
        'Q = "INSERT OR IGNORE INTO events (type) VALUES (?)"',
        'Q = "INSERT INTO t (a) VALUES (?)"',
        'Q = "DELETE FROM tokens"',
        'Q = "UPDATE tokens SET revoked_at = ?"',
        'Q = "CREATE UNIQUE INDEX IF NOT EXISTS i ON t (a)"',
        'Q = "PRAGMA journal_mode"',
        'clause = " AND a.handle = ?"',
        'clause = "WHERE s.key = ?"',
        'order = " ORDER BY t.id DESC"',
        'Q = "SELECT COUNT(*)"',
        'Q = "BEGIN IMMEDIATE"',
        'Q = "ON CONFLICT (key) DO NOTHING"',
    ]
    for source in found:
        assert sql_in(source), source


def test_the_sql_detector_leaves_prose_alone():
    prose = [
        'def f():\n    """SELECT the best chat FROM the queue, WHERE shop = ours."""',
        'msg = "select a shop from the list"',
        'msg = "Order by date, then by name"',
        'msg = "press Enter to select, Esc to go back"',
        'help = "Update the record and set its title"',
        'x = run(command)',
        'x = pool.submit(job)',
    ]
    for source in prose:
        assert not sql_in(source), source


# -- small modules --------------------------------------------------------------------------

MAX_LINES = 600  # issue #18: "no module over about 600 lines without a reason stated"
REASON = "Long because:"  # a docstring line starting so states the reason


def stated_reason(source: str) -> bool:
    """Whether the module docstring of ``source`` has a line starting ``Long because:``
    (after leading spaces)."""
    doc = ast.get_docstring(ast.parse(source)) or ""
    return any(line.strip().startswith(REASON) for line in doc.splitlines())


def long_modules_without_reason() -> dict[str, int]:
    """Every module of cstool/, commands/ or tui/ over MAX_LINES lines whose docstring
    states no reason, with its length."""
    out = {}
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            lines = len(source.splitlines())
            if lines > MAX_LINES and not stated_reason(source):
                out[path.relative_to(ROOT).as_posix()] = lines
    return out


def test_no_module_is_over_600_lines_without_a_stated_reason():
    long = long_modules_without_reason()
    assert not long, (f"modules over {MAX_LINES} lines (split them along their seams, or "
                      f"state why not in a docstring line starting {REASON!r}): {long}")


def test_the_long_module_check_reads_only_the_module_docstring():
    assert stated_reason('"""Tables.\n\nLong because: the data table of every key."""\n')
    assert stated_reason('"""Tables.\n\n  Long because: a table."""\nX = 1\n')
    assert not stated_reason('"""Tables."""\n')
    assert not stated_reason('"""Tables; not long because: nothing."""\n')
    assert not stated_reason('X = 1\n"""Long because: not the module docstring."""\n')
    assert not stated_reason('def f():\n    """Long because: a function\'s docstring."""\n')
