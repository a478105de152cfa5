"""HCC imaging-study engine: cohorts, features, model grid, run store and the statistics behind them.

The engine never imports streamlit; the dashboard only renders what the engine computes.
"""

from engine.errors import ValidationError

__version__ = "0.7.1"

__all__ = ["ValidationError", "__version__"]
