"""Statistics for imaging prediction studies: pure functions returning frozen result objects.

Binary outcomes: ROC/AUC with DeLong or bootstrap CIs, DeLong tests, threshold metrics, NRI/IDI, calibration
(Hosmer-Lemeshow, rms::val.prob statistics, curves, bootstrap optimism correction), decision curves and a
model-comparison table. Survival: Kaplan-Meier, log-rank, hazard ratios, Harrell's and Uno's C,
time-dependent AUC, Brier scores, risk cutoffs and stratification, calibration and decision curves at a
horizon, nomograms. Every statistic is checked against the R implementation named in its docstring.
"""

from engine.stats.calibration import (
    BootstrapCalibration,
    CalibrationStats,
    HosmerLemeshowResult,
    calibration_bootstrap,
    calibration_curve,
    calibration_stats,
    hosmer_lemeshow,
)
from engine.stats.compare import ModelComparison, compare_models
from engine.stats.concordance import CIndexComparison, ConcordanceResult, compare_c_index, concordance_index
from engine.stats.decision_curve import decision_curve
from engine.stats.delong import DeLongResult, UnpairedDeLongResult, delong_test, delong_test_unpaired
from engine.stats.nomogram import Nomogram, nomogram
from engine.stats.reclassification import IDIResult, NRIResult, idi, nri
from engine.stats.regression import (
    ClinicalSelection,
    backward_aic,
    multivariable_table,
    select_clinical,
    univariable_table,
)
from engine.stats.risk_groups import CutoffResult, StratificationResult, risk_cutoff, stratify, stratify_cohorts
from engine.stats.roc import (
    AUCResult,
    ThresholdMetrics,
    YoudenResult,
    auc,
    auc_ci,
    roc_curve,
    threshold_for_target,
    threshold_metrics,
    youden_threshold,
)
from engine.stats.survival import (
    HazardRatioResult,
    LogRankResult,
    hazard_ratio,
    kaplan_meier,
    logrank_test,
    survival_at,
)
from engine.stats.survival_calibration import survival_calibration, survival_decision_curve
from engine.stats.time_dependent import brier_scores, time_dependent_auc, time_dependent_roc

__all__ = [
    "AUCResult",
    "BootstrapCalibration",
    "CalibrationStats",
    "DeLongResult",
    "HosmerLemeshowResult",
    "IDIResult",
    "ModelComparison",
    "NRIResult",
    "ThresholdMetrics",
    "UnpairedDeLongResult",
    "YoudenResult",
    "auc",
    "auc_ci",
    "calibration_bootstrap",
    "calibration_curve",
    "calibration_stats",
    "compare_models",
    "decision_curve",
    "delong_test",
    "delong_test_unpaired",
    "hosmer_lemeshow",
    "idi",
    "nri",
    "roc_curve",
    "threshold_for_target",
    "threshold_metrics",
    "youden_threshold",
    # survival
    "CIndexComparison",
    "ConcordanceResult",
    "CutoffResult",
    "HazardRatioResult",
    "LogRankResult",
    "Nomogram",
    "StratificationResult",
    "brier_scores",
    "compare_c_index",
    "concordance_index",
    "hazard_ratio",
    "kaplan_meier",
    "logrank_test",
    "nomogram",
    "risk_cutoff",
    "stratify",
    "stratify_cohorts",
    "survival_at",
    "survival_calibration",
    "survival_decision_curve",
    "time_dependent_auc",
    "time_dependent_roc",
    # regression tables and clinical predictor selection
    "ClinicalSelection",
    "backward_aic",
    "multivariable_table",
    "select_clinical",
    "univariable_table",
]
