"""Reporting checklists (engine.report.checklists): official numbering, answers taken from the run."""

import pandas as pd

from engine.report.checklists import AUTHOR, CHECKLISTS, checklist_table, run_facts
from tests.dashboard.conftest import predictions_table

TRIPOD_AI_ITEMS = (
    "1 2 3a 3b 3c 4 5a 5b 6a 6b 6c 7 8a 8b 8c 9a 9b 9c 10 11 12a 12b 12c 12d 12e 12f 12g 13 14 15 16 17 "
    "18a 18b 18c 18d 18e 18f 19 20a 20b 20c 21 22 23a 23b 24 25 26 27a 27b 27c"
).split()


def test_official_item_numbering():
    assert [n for n, _ in CHECKLISTS["CLEAR"]] == [str(k) for k in range(1, 59)]
    assert [n for n, _ in CHECKLISTS["METRICS"]] == [str(k) for k in range(1, 31)]
    assert [n for n, _ in CHECKLISTS["TRIPOD+AI"]] == TRIPOD_AI_ITEMS
    assert len({n.rstrip("abcdefg") for n in TRIPOD_AI_ITEMS}) == 27


def test_items_are_answered_from_the_run_and_the_rest_left_to_the_author():
    predictions = predictions_table(n=120)
    config = {
        "cohort": {"manifest": "manifest.csv", "train_fraction": 0.7, "log_transform": ["afp"]},
        "radiomics": {"preset": "ct_demo", "rings_mm": {"ring5": 5}, "icc_threshold": 0.8},
        "deep": {"backbone": "resnet10"},
        "grid": {"classifiers": ["LR", "RF"], "smote": True},
        "seed": 3,
    }
    provenance = {
        "families": {"clinical": 4, "radiomics": 120, "deep": 64},
        "phases": ["arterial", "portal"],
        "packages": {"pyradiomics": "3.0.1"},
        "flowchart": {"manifest": 130, "excluded": {"empty mask": 10}, "analysed": 120, "cohorts": {}},
        "clinical": ["age", "sex"],
    }
    facts = run_facts(config, provenance, predictions)
    clear = checklist_table("CLEAR", facts).set_index("item")
    assert clear.loc["27", "reported"] == "clinical 4, radiomics 120, deep 64"
    assert clear.loc["23", "reported"] == "fixed bin width 25"  # the ct_demo preset's discretisation
    assert "empty mask 10" in clear.loc["11", "reported"] and "130 patients" in clear.loc["11", "reported"]
    assert clear.loc["31", "reported"].startswith("ICC >= 0.8") and "SMOTE" in clear.loc["30", "reported"]
    assert "seed 3" in clear.loc["15", "reported"] and clear.loc["9", "reported"] == AUTHOR
    assert set(clear["source"]) == {"this run", "author"}
    tripod = checklist_table("TRIPOD+AI", facts).set_index("item")
    assert tripod.loc["6a", "reported"].startswith("2 centres") and tripod.loc["17", "source"] == "author"
    assert tripod.loc["12b", "reported"].startswith("log10 of afp")
    upload = checklist_table("CLEAR", run_facts({}, {}, predictions)).set_index("item")
    assert upload.loc["26", "source"] == "author" and upload.loc["38", "source"] == "this run"
    assert upload.loc["15", "source"] == "author" and upload.loc["34", "source"] == "author"  # developed elsewhere
    assert isinstance(upload, pd.DataFrame) and len(upload) == 58
