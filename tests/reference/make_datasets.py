"""Write the made-up datasets that the R reference scripts read (run once; the CSVs are committed).

- ``ties.csv``: 300 patients, radiologist-style scores on a 1-5 scale and probabilities rounded to 0.05, so that
  tied scores and tied probabilities are everywhere.
- ``large.csv``: 20,000 patients, continuous scores and probabilities.
- ``survival_ties.csv``: 400 patients, whole-month times (ties), censoring, a risk score and a tied grade.
Each has ``y`` (0/1), ``score_a``, ``score_b`` (higher = event more likely), ``prob_old`` and ``prob_new``.

    python tests/reference/make_datasets.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent / "data"


def logistic(x):
    return 1 / (1 + np.exp(-x))


def ties(seed: int = 20261123) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 300
    latent = rng.normal(size=n)
    y = (rng.random(n) < logistic(-0.8 + 1.2 * latent)).astype(int)
    score_a = np.clip(np.round(3 + 1.1 * latent + rng.normal(scale=0.9, size=n)), 1, 5)
    score_b = np.clip(np.round(3 + 0.6 * latent + rng.normal(scale=1.2, size=n)), 1, 5)
    prob_old = np.round(logistic(-0.8 + 0.5 * latent + rng.normal(scale=0.8, size=n)) * 20) / 20
    prob_new = np.round(logistic(-0.8 + 1.0 * latent + rng.normal(scale=0.5, size=n)) * 20) / 20
    return pd.DataFrame({"y": y, "score_a": score_a, "score_b": score_b, "prob_old": prob_old, "prob_new": prob_new})


def large(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 20_000
    latent = rng.normal(size=n)
    y = (rng.random(n) < logistic(-1.2 + 1.0 * latent)).astype(int)
    score_a = latent + rng.normal(scale=0.7, size=n)
    score_b = latent + rng.normal(scale=0.9, size=n)
    prob_old = logistic(-1.0 + 0.7 * score_b)
    prob_new = logistic(-1.3 + 0.9 * score_a + 0.2 * score_b)
    return pd.DataFrame({"y": y, "score_a": score_a, "score_b": score_b, "prob_old": prob_old, "prob_new": prob_new})


def survival_ties(seed: int = 11) -> pd.DataFrame:
    """400 HCC-like patients: months to recurrence rounded to whole months (many tied times), administrative
    censoring at 60 months plus random drop-out, a continuous risk score and a 4-level grade (tied risks)."""
    rng = np.random.default_rng(seed)
    n = 400
    latent = rng.normal(size=n)
    grade = np.clip(np.round(2.5 + 0.9 * latent + rng.normal(scale=0.7, size=n)), 1, 4)
    event_time = rng.exponential(scale=30 * np.exp(-0.7 * latent))
    dropout = rng.uniform(6, 90, size=n)
    observed = np.minimum(np.minimum(event_time, dropout), 60)
    time = np.maximum(np.ceil(observed), 1)
    event = (event_time <= np.minimum(dropout, 60)).astype(int)
    risk = 0.8 * latent + rng.normal(scale=0.6, size=n)
    age = np.round(rng.normal(56, 11, size=n))
    sex = np.where(rng.random(n) < 0.82, "M", "F")
    return pd.DataFrame({"time": time, "event": event, "risk": risk, "grade": grade, "age": age, "sex": sex})


if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    ties().to_csv(HERE / "ties.csv", index=False, float_format="%.17g")
    large().to_csv(HERE / "large.csv", index=False, float_format="%.17g")
    survival_ties().to_csv(HERE / "survival_ties.csv", index=False, float_format="%.17g")
