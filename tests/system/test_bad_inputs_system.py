"""The bad-input matrix of the system around the statistics: one bad thing per case (manifest, config, upload, run
store), each answered by one ValidationError whose message names the argument and says the fix. No traceback from a
library reaches the user, and nothing already stored is lost."""

from __future__ import annotations

from engine.views.uploads import read_predictions
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from engine.cohort.manifest import load_manifest
from engine.config import parse_config
from engine.errors import ValidationError


def _image(folder: Path, name: str, values: np.ndarray, spacing=(1.0, 1.0, 3.0)) -> str:
    image = sitk.GetImageFromArray(values.astype(np.uint8))
    image.SetSpacing(spacing)
    sitk.WriteImage(image, str(folder / "images" / name))
    return f"images/{name}"


def _edit_row(folder: Path, column: str, value) -> None:
    table = pd.read_csv(folder / "manifest.csv")
    table.loc[2, column] = value
    table.to_csv(folder / "manifest.csv", index=False)


def _blob(shape=(16, 40, 40), labels=(1,)) -> np.ndarray:
    mask = np.zeros(shape)
    for k, label in enumerate(labels):
        mask[6:10, 10 + 8 * k : 16 + 8 * k, 10:16] = label
    return mask


MANIFEST_CASES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "path leaving the folder": (
        lambda f: _edit_row(f, "image_portal", "../../etc/passwd"),
        ["row 4", "image_portal", "leaves the manifest's folder", "keep images under"],
    ),
    "missing file": (
        lambda f: _edit_row(f, "mask", "images/nobody.nii.gz"),
        ["row 4", "mask", "nobody.nii.gz", "not found", "relative to the manifest's folder"],
    ),
    "geometry mismatch": (
        lambda f: _edit_row(f, "mask", _image(f, "small.nii.gz", _blob((16, 20, 20)))),
        ["row 4", "image size", "mask size", "resample the mask onto the image's grid"],
    ),
    "spacing mismatch": (
        lambda f: _edit_row(f, "mask", _image(f, "coarse.nii.gz", _blob(), spacing=(1.0, 1.0, 5.0))),
        ["row 4", "image spacing", "mask spacing", "resample the mask onto the image's grid"],
    ),
    "empty mask": (
        lambda f: _edit_row(f, "mask", _image(f, "empty.nii.gz", _blob(labels=()))),
        ["row 4", "mask", "the mask is empty", "segment the tumour or leave the patient out"],
    ),
    "mask without label 1 (several labels)": (
        lambda f: _edit_row(f, "mask", _image(f, "multi.nii.gz", _blob(labels=(2, 3)))),
        ["row 4", "mask", "2 labels [2, 3]", "save the tumour alone"],
    ),
    "all-NaN clinical column": (
        lambda f: _edit_row(f, "age", np.nan) or _all_missing(f, "age"),
        ["clinical column 'age'", "all 48 missing", "fill it in or remove it from cohort.clinical"],
    ),
}


def _all_missing(folder: Path, column: str) -> None:
    table = pd.read_csv(folder / "manifest.csv")
    table[column] = np.nan
    table.to_csv(folder / "manifest.csv", index=False)


@pytest.mark.parametrize("case", list(MANIFEST_CASES))
def test_manifest_case_names_the_argument_and_the_fix(small_cohort, tmp_path, case):
    folder = tmp_path / "cohort"
    shutil.copytree(small_cohort.parent, folder)
    change, expected = MANIFEST_CASES[case]
    change(folder)
    with pytest.raises(ValidationError) as info:
        load_manifest(folder / "manifest.csv", clinical=["age", "sex"])
    message = str(info.value)
    assert message.startswith("manifest manifest.csv has ") and "problem(s); fix them and load again" in message
    for fragment in expected:
        assert fragment in message, message


def test_a_single_non_one_label_is_the_tumour(small_cohort, tmp_path):
    """A binary mask saved with label 255 (as some tools do) is a tumour mask, not an error."""
    folder = tmp_path / "cohort"
    shutil.copytree(small_cohort.parent, folder)
    _edit_row(folder, "mask", _image(folder, "label255.nii.gz", _blob(labels=(255,))))
    assert len(load_manifest(folder / "manifest.csv").table) == 48


CONFIG_CASES = {
    "typo at the top level": ({"seeed": 1}, ["seeed: unknown setting", "did you mean 'seed'?"]),
    "typo in a section": ({"radiomics": {"presett": "ct"}}, ["radiomics.presett", "did you mean 'preset'?"]),
    "wrong type": ({"grid": {"n_iter": "ten"}}, ["grid.n_iter", "valid integer", "(got 'ten')", "study_template.yaml"]),
    "unknown classifier": (
        {"grid": {"classifiers": ["LR", "Magic"]}},
        ["grid:", "unknown classifiers ['Magic']", "choose from ['LR'"],
    ),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_config_case_names_the_setting_and_the_fix(case):
    change, expected = CONFIG_CASES[case]
    with pytest.raises(ValidationError) as info:
        parse_config({"cohort": {"feature_table": "features.csv"}, **change})
    message = str(info.value)
    assert "has 1 problem(s)" in message
    for fragment in expected:
        assert fragment in message, message


UPLOAD_CASES = {
    "semicolon CSV without patient_id": (
        b"id;label;Rad\n1;0;0,2\n2;1;0,8\n",
        ["a patient_id column is required", "delimiter ';' and decimal mark ','", "Name the patients' column"],
    ),
    "no outcome": (b"patient_id,Rad\n1,0.2\n2,0.8\n", ["an outcome is required", "label column (0/1)"]),
    "label not 0/1": (
        b"patient_id,label,Rad\n1,yes,0.2\n2,no,0.8\n",
        ["label must be coded 0/1", "got 'no', 'yes' in 2 row(s): row 2 (1), row 3 (2)", "recode the column to 0/1"],
    ),
    "model column with text": (
        b"patient_id,label,Rad (score)\n1,0,0.2\n2,1,high\n3,0,1.5\n",
        ["Rad (score) must be a number; got 'high' in 1 row(s): row 3 (2)", "leave the cell empty"],
    ),
    "no model column": (b"patient_id,label,age\n1,0,51\n2,1,64\n", ["no model column", "(score)"]),
    "not a table": (b"\x00\x01binary", ["upload.xlsx is not an Excel workbook", "save it from Excel as .xlsx"]),
}


@pytest.mark.parametrize("case", list(UPLOAD_CASES))
def test_upload_case_names_the_column_and_the_fix(case):
    data, expected = UPLOAD_CASES[case]
    with pytest.raises(ValidationError) as info:
        read_predictions(data, "upload.csv" if case != "not a table" else "upload.xlsx")
    for fragment in expected:
        assert fragment in str(info.value), str(info.value)


def test_a_failed_upload_or_load_loses_nothing_stored(tmp_path):
    """A bad upload and a damaged run's load leave the other runs of the store intact and loadable."""
    from engine.store import DamagedRunError, RunStore
    from tests.dashboard.conftest import predictions_table

    store = RunStore(tmp_path / "store")
    predictions = predictions_table(n=60)
    for run_id in ("keep000000000001", "break00000000001"):
        store.write(
            run_id,
            config={},
            predictions=predictions,
            grid=pd.DataFrame(),
            selected=pd.DataFrame(),
            metrics=pd.DataFrame({"model": ["Rad"]}),
            provenance={"name": run_id},
        )
    (store.path("break00000000001") / "metrics.csv").write_text("garbage")
    with pytest.raises(DamagedRunError, match="metrics.csv has 7 bytes where the manifest says 10"):
        store.load("break00000000001")
    with pytest.raises(ValidationError):
        read_predictions(b"patient_id,label\n1,0\n", "bad.csv")
    kept = store.load("keep000000000001")
    pd.testing.assert_frame_equal(kept.predictions, predictions)
    assert store.list().set_index("run_id")["status"].to_dict() == {
        "break00000000001": store.list()["status"].iloc[0],
        "keep000000000001": "ok",
    }
    assert store.list()["status"].iloc[0].startswith("damaged: metrics.csv")
