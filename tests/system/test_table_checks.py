"""Every table that enters is checked (engine.validation): a matrix of bad inputs across the entry points (feature
table, manifest, config, upload, new patients for predict, the CLI), one thing wrong at a time, each answered by one
ValidationError whose message names the column or setting and says the fix; generated messy tables never reach the
user as another exception; and a refused study or prediction leaves the store as it was.

The study is scikit-learn's breast-cancer table (real features computed from images) with two clinical columns and
a survival endpoint added, as an analyst would bring features computed elsewhere.
"""

from __future__ import annotations

from engine.views.uploads import read_predictions
import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from engine.cli import app
from engine.config import parse_config
from engine.errors import ValidationError
from engine.pipeline.new_patients import predict_new
from engine.store import RunStore
from engine.pipeline.inputs import load_study_table, read_feature_table
from engine.pipeline.study import run_study

N = 120
BASE_CONFIG = {
    "name": "checks",
    "cohort": {"feature_table": "features.csv", "clinical": ["age", "sex"]},
    "survival_endpoints": ["rfs"],
    "grid": {
        "models": {"Rad": ["radiomics"], "Clinical": ["clinical"]},
        "classifiers": ["LR"],
        "n_iter": 1,
        "folds": 3,
        "stacking": False,
        "search": "random",
    },
    "device": "cpu",
}


def breast_table(n: int = N) -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    rng = np.random.default_rng(0)
    frame = data.data.iloc[:n, :8].copy()
    frame.columns = [f"rad_{c.replace(' ', '_')}" for c in frame.columns]
    frame.insert(0, "patient_id", [f"P{i:03d}" for i in range(n)])
    frame.insert(1, "label", 1 - data.target.iloc[:n].to_numpy())
    frame.insert(2, "age", np.round(rng.normal(58, 9, n)))
    frame.insert(3, "sex", np.where(rng.random(n) < 0.7, "M", "F"))
    frame.insert(4, "center", np.where(np.arange(n) % 4 == 0, "C2", "C1"))
    frame.insert(5, "rfs_time", np.round(rng.exponential(30, n), 1) + 0.5)
    frame.insert(6, "rfs_event", (rng.random(n) < 0.6).astype(int))
    frame.insert(7, "stage", rng.choice(["A", "B", "C"], n))
    return frame


def write(folder: Path, table: pd.DataFrame, config: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "features.csv", index=False)
    (folder / "study.yaml").write_text(yaml.safe_dump(config or BASE_CONFIG))
    return folder / "study.yaml"


def edit(column: str, row: int, value) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(table: pd.DataFrame) -> pd.DataFrame:
        table = table.copy()
        if column not in table:
            table[column] = np.nan
        table[column] = table[column].astype(object)
        table.loc[row, column] = value
        return table

    return change


def whole(column: str, value) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda table: table.assign(**{column: value})


def with_config(**cohort) -> dict:
    return {**BASE_CONFIG, "cohort": {**BASE_CONFIG["cohort"], **cohort}}


# case -> (change to the table, config or None, fragments the message must hold: what, where, the fix)
FEATURE_TABLE_CASES: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], dict | None, list[str]]] = {
    "duplicated patient id": (
        edit("patient_id", 5, "P002"),
        None,
        ["patient_id must be unique", "got 'P002' in 2 row(s): row 4 (P002), row 7 (P002)", "merge or rename"],
    ),
    "missing patient id": (edit("patient_id", 9, np.nan), None, ["patient_id must not be missing", "row 11"]),
    "no patient_id column": (
        lambda t: t.rename(columns={"patient_id": "Patient ID"}),
        None,
        ["a patient_id column is required (is 'Patient ID' the patient id?)", "Name the patients' column patient_id"],
    ),
    "negative survival time": (
        edit("rfs_time", 3, -4),
        None,
        ["rfs_time must be a finite number >= 0", "got -4 in 1 row(s): row 5 (P003)", "correct the times"],
    ),
    "infinite survival time": (edit("rfs_time", 4, np.inf), None, ["rfs_time must be a finite number", "got inf"]),
    "survival time as text": (edit("rfs_time", 4, "lost"), None, ["rfs_time must be a finite number", "'lost'"]),
    "label yes/no without codes": (
        lambda t: t.assign(label=np.where(t["label"] == 1, "yes", "no")),
        None,
        ["label must be coded 0/1", "got 'no', 'yes' in 120 row(s)", "cohort.outcome_codes: {yes: 1, no: 0}"],
    ),
    "label 2": (edit("label", 7, 2), None, ["label must be coded 0/1", "got 2 in 1 row(s): row 9 (P007)"]),
    "missing label": (edit("label", 8, np.nan), None, ["label must not be missing", "row 10 (P008)", "fill it in"]),
    "event 2": (edit("rfs_event", 2, 2), None, ["rfs_event must be coded 0/1", "row 4 (P002)"]),
    "codes naming other values": (
        lambda t: t.assign(label=np.where(t["label"] == 1, "recurrence", "none")),
        with_config(outcome_codes={"yes": 1, "no": 0}),
        ["label must be coded 0/1", "'none', 'recurrence'", "cohort.outcome_codes"],
    ),
    "clinical column empty for everyone": (
        whole("age", np.nan),
        None,
        ["clinical column 'age' has no value (all 120 missing)", "remove it from cohort.clinical"],
    ),
    "clinical column constant": (
        whole("sex", "M"),
        None,
        ["clinical column 'sex' has one value ('M') for every patient", "remove it from cohort.clinical"],
    ),
    "clinical column not in the table": (
        lambda t: t.rename(columns={"age": "Age"}),
        None,
        ["age: the column is missing (cohort.clinical asks for it); did you mean 'Age'?"],
    ),
    "infinite feature": (
        edit("rad_mean_radius", 6, np.inf),
        None,
        ["rad_mean_radius must be finite", "row 8 (P006)", "cohort.infinite_as_missing: true"],
    ),
    "text in a feature column": (
        edit("rad_mean_texture", 10, "#DIV/0!"),
        None,
        ["rad_mean_texture must be a number", "got '#DIV/0!' in 1 row(s): row 12 (P010)", "leave the cell empty"],
    ),
    "feature column empty for everyone": (
        whole("rad_mean_area", np.nan),
        None,
        ["feature columns empty for every patient: ['rad_mean_area']", "export them again or drop the columns"],
    ),
    "infinite clinical value": (edit("age", 3, -np.inf), None, ["age must be finite", "row 5 (P003)"]),
    "unknown split name": (
        lambda t: t.assign(split=np.where(np.arange(len(t)) < 80, "train", "validation")),
        None,
        ["split must be train, internal, or a name beginning with external", "got 'validation'", "rename"],
    ),
    "split missing for a patient": (
        lambda t: edit("split", 4, np.nan)(t.assign(split="train")),
        None,
        ["split must not be missing", "row 6 (P004)"],
    ),
    "centre missing where centres are used": (
        edit("center", 1, np.nan),
        with_config(external_centers=["C2"]),
        ["center must not be missing", "row 3 (P001)"],
    ),
    "reference score outside its order": (
        edit("stage", 2, "D"),
        {**BASE_CONFIG, "reference_scores": {"Stage": {"column": "stage", "order": ["A", "B", "C"]}}},
        ["stage has values outside reference_scores order ['A', 'B', 'C']", "got 'D'", "add them to the order"],
    ),
    "reference score column missing": (
        lambda t: t.drop(columns="stage"),
        {**BASE_CONFIG, "reference_scores": {"Stage": {"column": "stage", "order": ["A", "B", "C"]}}},
        ["stage: the column is missing (reference_scores asks for it)"],
    ),
}


@pytest.mark.parametrize("case", list(FEATURE_TABLE_CASES))
def test_feature_table_case_names_the_column_and_the_fix(tmp_path, case):
    change, config, expected = FEATURE_TABLE_CASES[case]
    path = write(tmp_path, change(breast_table()), config)
    study = parse_config(yaml.safe_load(path.read_text()))
    with pytest.raises(ValidationError) as info:
        load_study_table(study, tmp_path)
    message = str(info.value)
    assert message.startswith("feature table features.csv has "), message
    for fragment in expected:
        assert fragment in message, message


FILE_CASES: dict[str, tuple[str, bytes, list[str]]] = {
    "binary file named .csv": ("features.csv", bytes(range(256)) * 4, ["is a binary file", "export the table as CSV"]),
    "Latin-1 text": (
        "features.csv",
        "patient_id,label,age\nP1,0,61\nP2,1,58\nRené,0,49\n".encode("latin-1"),
        ["is not UTF-8 text (byte 0xe9 on line 4", "save it from Excel as 'CSV UTF-8'"],
    ),
    "workbook named .csv": ("features.csv", b"PK\x03\x04" + bytes(100), ["is an Excel workbook saved under a .csv"]),
    "empty file": ("features.csv", b"\n\n", ["is empty", "a header row first"]),
    "a column twice": (
        "features.csv",
        b"patient_id,label,rad_a,rad_a\nP1,0,1,2\nP2,1,3,4\n",
        ["the columns ['rad_a'] appear more than once", "give every column its own name"],
    ),
    "header only": ("features.csv", b"patient_id,label,rad_a\n", ["has no rows below its header"]),
    "a row longer than the header": (
        "features.csv",
        b"patient_id,label\nP1,0\nP2,1,7\n",
        ["row 3 has more values than the header has column names", "name every column in the header"],
    ),
    "every row longer than the header": (  # found by the hypothesis test: pandas made the first values row labels
        "features.csv",
        b"patient_id\n:,0\n0\n",
        ["row 2 has more values than the header has column names", "quote values that hold the delimiter"],
    ),
    "unsupported format": ("features.json", b'{"patient_id": [1]}', ["must be a CSV or XLSX or Parquet file"]),
    "not a workbook named .xlsx": ("features.xlsx", b"patient_id,label\n", ["is not an Excel workbook"]),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_a_file_that_is_no_table_is_refused_by_name(tmp_path, case):
    name, data, expected = FILE_CASES[case]
    (tmp_path / name).write_bytes(data)
    study = parse_config(with_config(feature_table=name))
    with pytest.raises(ValidationError) as info:
        read_feature_table(tmp_path / name, study)
    message = str(info.value)
    assert name in message, message
    for fragment in expected:
        assert fragment in message, message


def test_a_missing_feature_table_names_the_path(tmp_path):
    with pytest.raises(ValidationError, match=r"feature table must be an existing .* which does not exist"):
        load_study_table(parse_config(BASE_CONFIG), tmp_path)


def test_configured_codes_and_infinities_are_accepted_and_said(tmp_path):
    """yes/no outcomes with cohort.outcome_codes, inf with cohort.infinite_as_missing: a valid table, the notice."""
    table = edit("rad_mean_radius", 6, np.inf)(breast_table())
    table["label"] = np.where(table["label"] == 1, "Yes", "no ")
    study = parse_config(with_config(outcome_codes={"yes": 1, "no": 0}, infinite_as_missing=True))
    write(tmp_path, table, None)
    with pytest.warns(UserWarning, match=r"infinite values set to missing .*rad_mean_radius \(1\)"):
        _, loaded, _, _ = load_study_table(study, tmp_path)
    assert loaded["label"].tolist() == breast_table()["label"].tolist()
    assert np.isnan(loaded.loc[6, "rad_mean_radius"]) and loaded["rad_mean_radius"].notna().sum() == N - 1


MANIFEST_CASES = {
    "label yes/no": (
        lambda t: t.assign(label=np.where(t["label"] == 1, "yes", "no")),
        ["manifest manifest.csv has", "label must be coded 0/1", "cohort.outcome_codes"],
    ),
    "duplicated patient id": (edit("patient_id", 3, "HCC0001"), ["patient_id must be unique", "got 'HCC0001'"]),
    "event coded 3": (edit("rfs_event", 2, 3), ["rfs_event must be coded 0/1", "row 4"]),
    "constant clinical column": (whole("sex", "F"), ["clinical column 'sex' has one value ('F')"]),
}


@pytest.mark.parametrize("case", list(MANIFEST_CASES))
def test_manifest_case_names_the_column_and_the_fix(small_cohort, tmp_path, case):
    folder = tmp_path / "cohort"
    shutil.copytree(small_cohort.parent, folder)
    change, expected = MANIFEST_CASES[case]
    change(pd.read_csv(folder / "manifest.csv")).to_csv(folder / "manifest.csv", index=False)
    study = parse_config({"cohort": {"manifest": "manifest.csv", "clinical": ["age", "sex"]}})
    with pytest.raises(ValidationError) as info:
        load_study_table(study, folder)
    for fragment in expected:
        assert fragment in str(info.value), str(info.value)


CONFIG_CASES = {
    "outcome code other than 0/1": (
        {"outcome_codes": {"yes": 2}},
        ["cohort.outcome_codes.yes", "(got 2)", "study_template.yaml"],
    ),
    "infinite_as_missing not a boolean": (
        {"infinite_as_missing": "sometimes"},
        ["cohort.infinite_as_missing", "valid boolean", "(got 'sometimes')"],
    ),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_config_case_names_the_setting(case):
    change, expected = CONFIG_CASES[case]
    with pytest.raises(ValidationError) as info:
        parse_config(with_config(**change))
    for fragment in expected:
        assert fragment in str(info.value), str(info.value)


def upload_bytes(change: Callable[[pd.DataFrame], pd.DataFrame]) -> bytes:
    table = breast_table(40)[["patient_id", "label", "rfs_time", "rfs_event"]]
    table = table.assign(split=np.where(np.arange(40) < 24, "train", "internal"), Rad=np.linspace(0.05, 0.95, 40))
    return change(table).to_csv(index=False).encode()


UPLOAD_CASES = {
    "duplicated patient id": (edit("patient_id", 5, "P001"), ["patient_id must be unique", "got 'P001'"]),
    "infinite probability": (edit("Rad", 3, np.inf), ["Rad must be finite", "row 5 (P003)"]),
    "missing label": (edit("label", 2, np.nan), ["label must not be missing", "row 4 (P002)"]),
    "negative time": (edit("rfs_time", 1, -2), ["rfs_time must be a finite number >= 0", "row 3 (P001)"]),
    "label yes/no": (
        lambda t: t.assign(label=np.where(t["label"] == 1, "yes", "no")),
        ["label must be coded 0/1", "recode the column to 0/1 (1 = event)"],
    ),
}


@pytest.mark.parametrize("case", list(UPLOAD_CASES))
def test_upload_case_names_the_column_and_the_fix(case):
    change, expected = UPLOAD_CASES[case]
    with pytest.raises(ValidationError) as info:
        read_predictions(upload_bytes(change), "upload.csv")
    message = str(info.value)
    assert "cohort.outcome_codes" not in message  # an upload has no config to name codes in
    for fragment in expected:
        assert fragment in message, message


def test_upload_of_a_binary_file_is_refused_by_name():
    with pytest.raises(ValidationError, match="upload predictions.csv is a binary file"):
        read_predictions(bytes(range(256)), "predictions.csv")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A feature-table run (Rad: 8 features; Clinical: age, sex) in its own store."""
    folder = tmp_path_factory.mktemp("trained")
    config_path = write(folder, breast_table())
    store = RunStore(folder / "store")
    run_id = run_study(parse_config(yaml.safe_load(config_path.read_text())), folder, store)
    return folder, store, run_id


def new_patients(change: Callable[[pd.DataFrame], pd.DataFrame] = lambda t: t) -> pd.DataFrame:
    table = breast_table(160).iloc[N:].drop(columns=["label", "rfs_time", "rfs_event", "center"])
    return change(table.reset_index(drop=True))


PREDICT_CASES = {
    "a needed column missing": (
        lambda t: t.drop(columns=["rad_mean_radius", "age"]),
        [
            "2 column(s) the run's models need are missing",
            "rad_mean_radius (for Rad)",
            "age (for Clinical)",
            "Add them with the names, units and codes used in training",
        ],
    ),  # fmt: skip
    "a level training never saw": (
        edit("sex", 1, "Male"),
        [
            "sex has levels the run was not trained on",
            "got 'Male' in 1 row(s): row 3 (P121)",
            "recode them to a training level: ['F', 'M']",
        ],
    ),  # fmt: skip
    "text in a numeric column": (edit("age", 0, "sixty"), ["age must be a number", "got 'sixty'"]),
    "infinite feature": (edit("rad_mean_area", 2, np.inf), ["rad_mean_area must be finite", "row 4 (P122)"]),
    "duplicated patient id": (edit("patient_id", 1, "P120"), ["patient_id must be unique", "got 'P120'"]),
    "outcome coded yes/no": (
        lambda t: t.assign(label="yes"),
        ["label must be coded 0/1", "cohort.outcome_codes"],
    ),
}


@pytest.mark.parametrize("case", list(PREDICT_CASES))
def test_predict_case_names_the_column_and_the_fix(trained, tmp_path, case):
    folder, store, run_id = trained
    change, expected = PREDICT_CASES[case]
    new_patients(change).to_csv(tmp_path / "new.csv", index=False)
    with pytest.raises(ValidationError) as info:
        predict_new(store.load(run_id), tmp_path / "new.csv")
    message = str(info.value)
    assert message.startswith("new patients new.csv has "), message
    for fragment in expected:
        assert fragment in message, message


def test_predict_scores_a_feature_table_as_the_stored_pipelines_do(trained, tmp_path):
    """New patients of a feature-table run: each model's probability equals its stored pipeline's on the same
    columns; a missing value is imputed and said."""
    folder, store, run_id = trained
    run = store.load(run_id)
    table = edit("age", 0, np.nan)(new_patients())
    table.to_csv(tmp_path / "new.csv", index=False)
    with pytest.warns(UserWarning, match=r"missing values imputed as in training .*age \(1\)"):
        scored = predict_new(run, tmp_path / "new.csv")
    assert set(scored["model"]) == {"Rad", "Clinical"} and len(scored) == 2 * len(table)
    for model in ("Rad", "Clinical"):
        pipeline = run.pipeline(model)
        columns = list(pipeline.named_steps["prepare"].feature_names_in_)
        expected = pipeline.predict_proba(pd.read_csv(tmp_path / "new.csv")[columns])[:, 1]
        np.testing.assert_allclose(scored.query("model == @model")["prob"], expected, rtol=1e-12)
    assert set(scored["rfs_risk_group"]) == {"high", "low"}  # at the run's training median for RFS


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_cli_refuses_a_bad_table_in_one_message_and_loses_nothing(trained, tmp_path):
    """train and predict on bad tables: exit status 2, one message, no traceback; the store, its caches and the
    earlier run are byte for byte as they were."""
    folder, store, run_id = trained
    before = tree_digest(store.root)
    bad = edit("patient_id", 5, "P002")(breast_table())
    config = write(tmp_path, bad)
    result = CliRunner().invoke(app, ["train", "--config", str(config), "--store", str(store.root)])
    assert result.exit_code == 2, result.output
    assert "error: feature table features.csv has 1 problem(s)" in result.output
    assert "patient_id must be unique" in result.output and "Traceback" not in result.output
    new_patients(edit("sex", 0, "X")).to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "scored.csv"
    arguments = ["predict", "--run", run_id, "--features", str(tmp_path / "new.csv"), "--out", str(out)]
    result = CliRunner().invoke(app, [*arguments, "--store", str(store.root)])
    assert result.exit_code == 2 and "sex has levels the run was not trained on" in result.output, result.output
    assert not out.exists() and tree_digest(store.root) == before
    assert store.load(run_id).predictions.shape[0] > 0


def test_cli_prints_notes_and_scores_new_patients(trained, tmp_path):
    folder, store, run_id = trained
    new_patients(edit("rad_mean_area", 0, np.nan)).to_csv(tmp_path / "new.csv", index=False)
    out = tmp_path / "scored.csv"
    arguments = ["predict", "--run", run_id, "--features", str(tmp_path / "new.csv"), "--out", str(out)]
    result = CliRunner().invoke(app, [*arguments, "--store", str(store.root)])
    assert result.exit_code == 0, result.output
    assert "note: missing values imputed as in training" in result.output and "rad_mean_area (1)" in result.output
    assert len(pd.read_csv(out)) == 2 * 40
    result = CliRunner().invoke(app, ["predict", "--run", run_id, "--store", str(store.root)])
    assert result.exit_code == 2 and "exactly one of --manifest" in result.output


def test_an_unexpected_error_says_where_its_traceback_is(tmp_path, monkeypatch):
    """A fault of ours (not the user's): one line with the file holding the traceback, exit status 1; --debug
    prints the traceback."""
    import engine.pipeline.study

    def broken(*args, **kwargs):
        return 1 / 0

    monkeypatch.setattr(engine.pipeline.study, "run_study", broken)
    config = write(tmp_path, breast_table())
    result = CliRunner().invoke(app, ["train", "--config", str(config), "--store", str(tmp_path / "store")])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "unexpected error (ZeroDivisionError: division by zero)" in result.output
    written = Path(result.output.split("the full traceback is in ")[1].split(";")[0])
    assert "Traceback" in written.read_text() and "ZeroDivisionError" in written.read_text()
    assert "--debug" in result.output and "report it" in result.output
    result = CliRunner().invoke(app, ["--debug", "train", "--config", str(config), "--store", str(tmp_path / "s")])
    assert result.exit_code == 1 and "Traceback (most recent call last)" in result.output


def test_help_and_a_mistyped_option_are_answered_by_the_command_line(tmp_path, monkeypatch):
    """A command's --help prints its help (exit 0) and a mistyped option is named with the usage (exit 2); neither
    is reported as "a fault of hcc-study" with a traceback file (typer 0.29's own click exceptions were taken for
    unexpected errors)."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a traceback file would go
    for command in (["train"], ["jobs", "run"], ["predict"]):
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "--store" in result.output, result.output
        assert "unexpected error" not in result.output
    result = CliRunner().invoke(app, ["train", "--bogus"])
    assert result.exit_code == 2 and "No such option: --bogus" in result.output, result.output
    assert "unexpected error" not in result.output and not (tmp_path / "hcc-study-errors").exists()


# Generated messy tables: values real exports hold, in any mix, written with any delimiter.
MESSY_VALUES = st.one_of(
    st.none(),
    st.sampled_from([0, 1, 2, -4, 0.5, "yes", "no", "TRUE", "n/a", "#DIV/0!", "", " ", "1,5", "inf", "-inf", "é"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-10, 10),
    st.text(max_size=4),
)
COLUMNS = ["patient_id", "label", "rfs_time", "rfs_event", "age", "sex", "split", "center", "rad_a", "rad_b", "Rad"]


@st.composite
def messy_tables(draw) -> bytes:
    columns = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=8))
    rows = draw(st.integers(0, 6))
    table = pd.DataFrame({c: [draw(MESSY_VALUES) for _ in range(rows)] for c in columns})
    if draw(st.booleans()):
        return draw(st.binary(max_size=200))
    return table.to_csv(index=False, sep=draw(st.sampled_from([",", ";", "\t", "|"]))).encode(
        draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"])), errors="replace"
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=messy_tables())
def test_messy_tables_become_a_valid_table_or_one_validation_error(tmp_path, data):
    """The feature-table reader (with the study's checks) and the upload reader take any bytes: a table that
    passes, or a ValidationError; never another exception."""
    path = tmp_path / "features.csv"
    path.write_bytes(data)
    try:
        table = read_feature_table(path, parse_config(BASE_CONFIG))
        assert table["patient_id"].is_unique and table["patient_id"].notna().all()
    except ValidationError:
        pass
    try:
        long = read_predictions(data, "upload.csv")
        assert {"patient_id", "model", "prob"} <= set(long.columns) and np.isfinite(long["prob"]).all()
    except ValidationError:
        pass
