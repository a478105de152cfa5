"""Statistics for imaging prediction studies: pure functions returning frozen result objects.

Binary outcomes: ROC/AUC with DeLong or bootstrap CIs, DeLong tests, threshold metrics, NRI/IDI, calibration
(Hosmer-Lemeshow, rms::val.prob statistics, curves, bootstrap optimism correction), decision curves and a
model-comparison table. Every statistic is checked against the R implementation named in its docstring.
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
from engine.stats.decision_curve import decision_curve
from engine.stats.delong import DeLongResult, UnpairedDeLongResult, delong_test, delong_test_unpaired
from engine.stats.reclassification import IDIResult, NRIResult, idi, nri
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

__all__ = [
    "AUCResult", "BootstrapCalibration", "CalibrationStats", "DeLongResult", "HosmerLemeshowResult", "IDIResult",
    "ModelComparison", "NRIResult", "ThresholdMetrics", "UnpairedDeLongResult", "YoudenResult",
    "auc", "auc_ci", "calibration_bootstrap", "calibration_curve", "calibration_stats", "compare_models",
    "decision_curve", "delong_test", "delong_test_unpaired", "hosmer_lemeshow", "idi", "nri", "roc_curve",
    "threshold_for_target", "threshold_metrics", "youden_threshold",
]
