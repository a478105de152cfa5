"""Serve the dashboard ready for its first analysts: ``python -m dashboard.serve [streamlit options]``.

``streamlit run dashboard/app.py`` runs nothing of the app before the first tab connects, so the first tabs wait
for the engine's libraries to import (pandas, scipy, statsmodels, scikit-learn, plotly: about 2.4 s on 2 cores) and
for the first results: 20 tabs opening a cold server waited 4.5-6 s (p95) for the Overview. Here the libraries are
imported before the server answers, and once it does, one session opens the Overview and the ROC page
(dashboard.warm_up), so that the shared results are there when the first analyst arrives. `make demo`, the
Dockerfile and deploy/docker-compose.yml serve the dashboard this way; the options are `streamlit run`'s
(``--server.port 8502 --server.headless true`` ...).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"


def port_of(options: list[str]) -> int:
    """The port that ``streamlit run`` will listen on, from its options (``--server.port N`` or
    ``--server.port=N``; 8501 by default)."""
    for index, option in enumerate(options):
        if option == "--server.port" and index + 1 < len(options):
            return int(options[index + 1])
        if option.startswith("--server.port="):
            return int(option.split("=", 1)[1])
    return 8501


def warm_when_up(port: int) -> threading.Thread:
    """dashboard.warm_up's visit on a thread of this process, once the server answers."""
    from dashboard import warm_up

    thread = threading.Thread(target=warm_up.warm, args=(port, 120.0, ("ROC",)), daemon=True, name="warm-up")
    thread.start()
    return thread


def main(options: list[str]) -> None:
    from dashboard import cached, state  # noqa: F401 - the engine's libraries, imported before the first tab

    warm_when_up(port_of(options))
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *options]
    cli.main()


if __name__ == "__main__":
    main(sys.argv[1:])
