"""Memory does not grow with the number of sessions or uploads: every result cache of the dashboard is bounded, and
uploads live in the browser session, not in a process-wide cache (benchmarks/load_test.py measures the server)."""

import ast
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"


def _unbounded(path: Path) -> list[str]:
    """Each st.cache_data / st.cache_resource in ``path`` used bare or called without max_entries."""
    tree = ast.parse(path.read_text())
    called = {id(node.func): node for node in ast.walk(tree) if isinstance(node, ast.Call)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("cache_data", "cache_resource"):
            call = called.get(id(node))
            if call is None or not any(k.arg == "max_entries" for k in call.keywords):
                found.append(f"{path.name}:{node.lineno}")
    return found


def test_every_cache_has_max_entries():
    unbounded = [place for path in sorted(DASHBOARD.rglob("*.py")) for place in _unbounded(path)]
    assert unbounded == [], unbounded


def test_uploads_are_not_in_a_process_wide_cache():
    text = (DASHBOARD / "state.py").read_text()
    assert 'st.session_state["upload_parsed"]' in text
    assert "read_predictions" not in (DASHBOARD / "cached.py").read_text()
