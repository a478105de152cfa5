"""Interpretable regression models with publication tables, as scikit-learn estimators.

- ``LogisticModel``: unpenalised maximum-likelihood logistic regression (as R ``glm``/``rms::lrm``).
- ``CoxModel``: Cox proportional hazards, Efron ties (statsmodels PHReg; as ``survival::coxph``).
- ``LassoCoxModel``: L1-penalised Cox, penalty by cross-validated partial likelihood (scikit-survival Coxnet).

All take a DataFrame with numeric and categorical predictors (treatment coding against the first level: sorted
order, or a pandas Categorical's category order); ``summary_`` is the coefficient table, ``llf_`` the
(partial) log-likelihood; ``terms_`` describes the predictors for nomograms.
Survival targets ``y`` are scikit-survival structured arrays, or a two-column table ``(time, event)``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from sklearn.base import BaseEstimator, ClassifierMixin

from engine.errors import ValidationError
from engine.stats.design import coefficient_table, design_matrix, learn_terms
from engine.stats._checks import check_binary_outcome, check_survival


def as_time_event(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """(time, event) from a structured array (fields event/status and time), a DataFrame or an (n, 2) array."""
    if isinstance(y, np.ndarray) and y.dtype.names:
        names = y.dtype.names
        event_field = next((n for n in names if y[n].dtype == bool), names[0])
        time_field = next(n for n in names if n != event_field)
        return check_survival(y[time_field], y[event_field])
    if isinstance(y, pd.DataFrame):
        if {"time", "event"} <= set(y.columns):
            return check_survival(y["time"], y["event"])
        y = y.to_numpy()
    array = np.asarray(y)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValidationError(
            f"y must be survival data: a structured array (sksurv.util.Surv), a DataFrame with time and event, or "
            f"an (n, 2) array of (time, event); got shape {array.shape}."
        )
    return check_survival(array[:, 0], array[:, 1])


class LogisticModel(ClassifierMixin, BaseEstimator):
    """Maximum-likelihood logistic regression with an odds-ratio table (statsmodels)."""

    def __init__(self, level: float = 0.95):
        self.level = level

    def fit(self, X: pd.DataFrame, y: Any) -> LogisticModel:
        import statsmodels.api as sm

        event = check_binary_outcome(y)
        self.terms_ = learn_terms(X)
        design = design_matrix(X, self.terms_)
        from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = sm.Logit(event.astype(float), sm.add_constant(design.to_numpy(), has_constant="add")).fit(
                disp=0, maxiter=200, tol=1e-12
            )
        separated = any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
        if separated or not fit.mle_retvals.get("converged", True) or not np.isfinite(fit.bse).all():
            spread = np.asarray(np.abs(fit.params[1:]) * design.std().to_numpy())
            named = [design.columns[i] for i in np.argsort(-np.nan_to_num(spread, nan=np.inf))[:3]]
            raise ValidationError(
                "the logistic fit has no finite maximum: the outcome is (quasi-)perfectly separated"
                f"{', most likely by ' + ', '.join(named) if named else ''}, so an odds ratio would be infinite. "
                "Merge sparse levels, drop the predictor, or use a penalised model."
            )
        self.llf_ = float(fit.llf)
        self.covariance_ = np.asarray(fit.cov_params(), dtype=float)  # intercept first
        self.intercept_ = float(fit.params[0])
        self.coef_ = np.asarray(fit.params[1:], dtype=float)
        self.feature_names_ = list(design.columns)
        self.classes_ = np.array([0, 1])
        z = float(sps.norm.ppf(0.5 + self.level / 2))
        self.summary_ = coefficient_table(
            ["(Intercept)", *self.feature_names_], np.asarray(fit.params), np.asarray(fit.bse), z, "odds_ratio"
        )
        return self

    def linear_predictor(self, X: pd.DataFrame) -> np.ndarray:
        return self.intercept_ + design_matrix(X, self.terms_).to_numpy() @ self.coef_

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-self.linear_predictor(X)))
        return np.column_stack([1 - p, p])

    def predict_interval(self, X: pd.DataFrame, level: float | None = None) -> pd.DataFrame:
        """Probability with its Wald confidence interval on the logit scale, as R ``predict(glm, se.fit = TRUE)``:
        lp +/- z se(lp), se(lp)^2 = x' V x with x = (1, design row); columns lp, se, prob, ci_low, ci_high."""
        design = np.column_stack([np.ones(len(X)), design_matrix(X, self.terms_).to_numpy()])
        lp = design @ np.concatenate([[self.intercept_], self.coef_])
        se = np.sqrt(np.einsum("ij,jk,ik->i", design, self.covariance_, design))
        from scipy.special import expit

        z = float(sps.norm.ppf(0.5 + (level or self.level) / 2))
        return pd.DataFrame(
            {"lp": lp, "se": se, "prob": expit(lp), "ci_low": expit(lp - z * se), "ci_high": expit(lp + z * se)}
        )

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def efron_baseline_hazard(t: np.ndarray, e: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative baseline hazard at x = 0 with Efron's tie correction, as R ``survfit(coxph(..., ties="efron"))``.

    At an event time with d deaths, risk-set sum R = sum exp(eta) over time >= t and death sum D over the d
    deaths, the increment is sum_{k=0}^{d-1} 1 / (R - k/d * D).
    """
    risk = np.exp(eta)
    event_times, inverse = np.unique(t[e], return_inverse=True)
    deaths = np.bincount(inverse, minlength=event_times.size)
    death_sum = np.bincount(inverse, weights=risk[e], minlength=event_times.size)
    order = np.argsort(t)
    suffix = np.cumsum(risk[order][::-1])[::-1]
    risk_sum = suffix[np.searchsorted(t[order], event_times, side="left")]
    slot = np.repeat(np.arange(event_times.size), deaths)
    k = np.arange(slot.size) - np.repeat(np.cumsum(deaths) - deaths, deaths)
    terms = 1 / (risk_sum[slot] - k / deaths[slot] * death_sum[slot])
    return event_times, np.cumsum(np.bincount(slot, weights=terms, minlength=event_times.size))


def _heavy_tailed(design: pd.DataFrame, limit: float = 8.0) -> str:
    """' (heavy-tailed here: a, b)' naming columns with values more than ``limit`` SDs from their mean, or ''."""
    spread = design.std().replace(0, np.nan)
    extreme = ((design - design.mean()).abs().max() / spread).dropna()
    names = list(extreme[extreme > limit].index)
    return f" (heavy-tailed here: {', '.join(names)})" if names else ""


class CoxModel(BaseEstimator):
    """Cox proportional hazards model (Efron ties, as ``survival::coxph``) with a hazard-ratio table.

    Fitted by statsmodels' PHReg, which agrees with R to 1e-9 (lifelines stops about 1e-6 short on tied data).
    ``predict`` gives the linear predictor x'beta (uncentred; higher = earlier event); ``predict_survival``
    gives S(t | x) = S0(t)^exp(x'beta) with the Efron-corrected baseline hazard at x = 0 (as R's survfit).
    """

    def __init__(self, level: float = 0.95, handle_unknown: str = "error"):
        self.level = level
        self.handle_unknown = handle_unknown  # "ignore": a level unseen in training is scored as the reference level

    def fit(self, X: pd.DataFrame, y: Any) -> CoxModel:
        from statsmodels.duration.hazard_regression import PHReg

        t, e = as_time_event(y)
        self.terms_ = learn_terms(X)
        design = design_matrix(X, self.terms_)
        self.feature_names_ = list(design.columns)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = PHReg(t, design.to_numpy(), status=e.astype(float), ties="efron")
            fit = model.fit()
            if not np.isfinite(fit.params).all():  # Newton from zero can overshoot (e.g. a rare level with a large HR)
                start = model.fit(method="bfgs", maxiter=2000, gtol=1e-8).params
                if np.isfinite(start).all():
                    fit = model.fit(start_params=start)  # Newton from near the optimum: R's precision
        self.coef_ = np.asarray(fit.params, dtype=float)
        self.llf_ = float(fit.llf)
        if not np.isfinite(self.coef_).all():
            raise ValidationError(
                "the Cox fit did not converge (coefficients not finite): the partial likelihood has no maximum, as "
                "when a "
                f"predictor separates early from late events or is heavy-tailed{_heavy_tailed(design)}. "
                "Log-transform or "
                "categorise such predictors, drop them, or use LASSO-Cox."
            )
        z = float(sps.norm.ppf(0.5 + self.level / 2))
        self.summary_ = coefficient_table(
            self.feature_names_, self.coef_, np.asarray(fit.bse, dtype=float), z, "hazard_ratio"
        )
        self.baseline_times_, self.baseline_cumulative_hazard_ = efron_baseline_hazard(
            t, e, design.to_numpy() @ self.coef_
        )
        self.covariance_ = np.asarray(fit.cov_params(), dtype=float)
        self.training_ = (t.astype(float), e.astype(bool), design.to_numpy(dtype=float))  # for survival_interval
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return design_matrix(X, self.terms_, handle_unknown=self.handle_unknown).to_numpy() @ self.coef_

    def baseline_survival(self, times: Any) -> np.ndarray:
        """S0(t) at x = 0 (step function, right-continuous)."""
        index = np.searchsorted(self.baseline_times_, np.atleast_1d(np.asarray(times, float)), side="right") - 1
        hazard = np.where(index >= 0, self.baseline_cumulative_hazard_[np.maximum(index, 0)], 0.0)
        return np.exp(-hazard)

    def predict_survival(self, X: pd.DataFrame, times: Any) -> np.ndarray:
        """Survival probabilities, one row per patient and one column per time."""
        return self.baseline_survival(times)[None, :] ** np.exp(self.predict(X))[:, None]

    def survival_interval(self, X: pd.DataFrame, times: Any, level: float | None = None) -> pd.DataFrame:
        """S(t | x) of each patient of ``X`` with its confidence band, as R ``survfit(coxph, newdata)`` with
        ``conf.type = "log"``: var H(t | x) = exp(2 x'b) [sum_k v_k + q(t)' V q(t)], v_k = sum_j 1/den_j^2 and
        q(t) = sum_{t_k <= t} sum_j (x - xbar_j) / den_j over the Efron steps j of each event time (Tsiatis 1981),
        the band S exp(-/+ z se(H)). Columns patient (row of X), time, survival, se (of H), ci_low, ci_high."""
        t, e, design = self.training_
        risk = np.exp(design @ self.coef_)
        event_times = np.unique(t[e])
        increments, variance, weighted_mean = [], [], []  # per event time: sum_j 1/den, sum_j 1/den^2, sum_j xbar/den
        for time in event_times:
            at_risk, deaths = t >= time, (t == time) & e
            d = int(deaths.sum())
            total, death_total = risk[at_risk].sum(), risk[deaths].sum()
            total_x, death_x = risk[at_risk] @ design[at_risk], risk[deaths] @ design[deaths]
            denominators = total - np.arange(d) / d * death_total
            means = (total_x[None, :] - (np.arange(d) / d)[:, None] * death_x[None, :]) / denominators[:, None]
            increments.append((1 / denominators).sum())
            variance.append((1 / denominators**2).sum())
            weighted_mean.append((means / denominators[:, None]).sum(axis=0))
        hazard, var_sum = np.cumsum(increments), np.cumsum(variance)
        mean_sum = np.cumsum(np.array(weighted_mean).reshape(len(event_times), -1), axis=0)
        times = np.atleast_1d(np.asarray(times, float))
        index = np.searchsorted(event_times, times, side="right") - 1
        z = float(sps.norm.ppf(0.5 + (level or self.level) / 2))
        rows = []
        new = design_matrix(X, self.terms_, handle_unknown=self.handle_unknown).to_numpy(dtype=float)
        for patient, x in enumerate(new):
            relative = float(np.exp(x @ self.coef_))
            for time, k in zip(times, index):
                if k < 0:
                    rows.append((patient, time, 1.0, 0.0, 1.0, 1.0))
                    continue
                q = hazard[k] * x - mean_sum[k]
                se = relative * np.sqrt(var_sum[k] + q @ self.covariance_ @ q)
                survival = float(np.exp(-relative * hazard[k]))
                rows.append(
                    (patient, time, survival, se, survival * np.exp(-z * se), min(1.0, survival * np.exp(z * se)))
                )
        return pd.DataFrame(rows, columns=["patient", "time", "survival", "se", "ci_low", "ci_high"])


def breslow_partial_log_likelihood(t: np.ndarray, e: np.ndarray, eta: np.ndarray) -> float:
    """Cox partial log-likelihood (Breslow ties): sum over events of eta_i - log sum_{t_j >= t_i} exp(eta_j)."""
    order = np.argsort(t, kind="stable")
    shift = eta.max()
    suffix = np.cumsum(np.exp(eta[order] - shift)[::-1])[::-1]
    first_at_risk = np.searchsorted(t[order], t[e], side="left")
    return float(np.sum(eta[e] - shift - np.log(suffix[first_at_risk])))


class LassoCoxModel(BaseEstimator):
    """L1-penalised Cox regression (scikit-survival Coxnet); the penalty maximises the cross-validated partial
    likelihood of Verweij & van Houwelingen (1993), as ``glmnet::cv.glmnet(family="cox")``.

    Predictors are standardised inside each fit; ``coef_`` is on the original scale. ``summary_`` lists the
    selected (non-zero) terms with hazard ratios (no p-values: they are not valid after selection);
    ``cv_results_`` the path of penalties with their cross-validated partial log-likelihood.
    """

    def __init__(self, cv: int = 5, n_alphas: int = 50, seed: int = 0, handle_unknown: str = "error"):
        self.cv = cv
        self.n_alphas = n_alphas
        self.seed = seed
        self.handle_unknown = handle_unknown  # "ignore": a level unseen in training is scored as the reference level

    @staticmethod
    def _path(values: np.ndarray, t: np.ndarray, e: np.ndarray, alphas: np.ndarray | None, n_alphas: int):
        from sklearn.preprocessing import StandardScaler
        from sksurv.linear_model import CoxnetSurvivalAnalysis
        from sksurv.util import Surv

        scaler = StandardScaler().fit(values)
        options = {"alphas": alphas} if alphas is not None else {"n_alphas": n_alphas, "alpha_min_ratio": 0.01}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coxnet = CoxnetSurvivalAnalysis(l1_ratio=1.0, **options).fit(
                scaler.transform(values), Surv.from_arrays(event=e, time=t)
            )
        return scaler, coxnet

    def fit(self, X: pd.DataFrame, y: Any) -> LassoCoxModel:
        from sklearn.model_selection import KFold

        t, e = as_time_event(y)
        self.terms_ = learn_terms(X, drop_constant=True)
        design = design_matrix(X, self.terms_)
        self.feature_names_ = list(design.columns)
        values = design.to_numpy()
        scaler, full = self._path(values, t, e, None, self.n_alphas)
        alphas = full.alphas_
        score = np.zeros(alphas.size)
        for train, _ in KFold(self.cv, shuffle=True, random_state=self.seed).split(values):
            fold_scaler, fold = self._path(values[train], t[train], e[train], alphas, self.n_alphas)
            path = np.zeros((values.shape[1], alphas.size))
            path[:, : fold.coef_.shape[1]] = fold.coef_
            eta_all = fold_scaler.transform(values) @ path
            eta_train = fold_scaler.transform(values[train]) @ path
            score += [
                breslow_partial_log_likelihood(t, e, eta_all[:, k])
                - breslow_partial_log_likelihood(t[train], e[train], eta_train[:, k])
                for k in range(alphas.size)
            ]
        best = int(np.argmax(score))
        self.alpha_ = float(alphas[best])
        self.coef_ = full.coef_[:, best] / scaler.scale_
        self.cv_results_ = pd.DataFrame(
            {"alpha": alphas, "cv_partial_log_likelihood": score, "n_selected": (full.coef_ != 0).sum(axis=0)}
        )
        selected = np.flatnonzero(self.coef_ != 0)
        self.summary_ = pd.DataFrame(
            {
                "term": [self.feature_names_[i] for i in selected],
                "coef": self.coef_[selected],
                "hazard_ratio": np.exp(self.coef_[selected]),
            }
        )
        self.baseline_times_, self.baseline_cumulative_hazard_ = efron_baseline_hazard(t, e, values @ self.coef_)
        return self

    def baseline_survival(self, times: Any) -> np.ndarray:
        """S0(t) at x = 0 with the penalised coefficients (Efron-corrected baseline hazard, step function)."""
        return CoxModel.baseline_survival(self, times)

    def predict_survival(self, X: pd.DataFrame, times: Any) -> np.ndarray:
        """Survival probabilities, one row per patient and one column per time."""
        return self.baseline_survival(times)[None, :] ** np.exp(self.predict(X))[:, None]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return design_matrix(X, self.terms_, handle_unknown=self.handle_unknown).to_numpy() @ self.coef_
