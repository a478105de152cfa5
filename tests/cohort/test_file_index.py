"""engine.cohort.file_index: what was read from a file is remembered by path, size and modification time."""

import os

from engine.cohort.file_index import FileIndex


def test_a_value_is_computed_once_and_again_when_the_file_changes(tmp_path):
    image = tmp_path / "image.nii.gz"
    image.write_bytes(b"voxels")
    calls = []

    def compute():
        calls.append(image.read_bytes())
        return {"bytes": len(image.read_bytes())}

    index = FileIndex(tmp_path / "index.sqlite")
    assert index.get(image, "header", compute) == {"bytes": 6}
    index.save()
    again = FileIndex(tmp_path / "index.sqlite")  # a later start: read from the index, not the file
    assert again.get(image, "header", compute) == {"bytes": 6} and len(calls) == 1
    assert again.get(image, "labels", lambda: [1]) == [1]  # another kind of value: its own entry
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched: read again
    assert FileIndex(tmp_path / "index.sqlite").get(image, "header", compute) == {"bytes": 6} and len(calls) == 2
    image.write_bytes(b"more voxels")
    assert FileIndex(tmp_path / "index.sqlite").get(image, "header", compute) == {"bytes": 11}


def test_a_series_folder_is_keyed_by_its_files_and_no_index_computes_always(tmp_path):
    series = tmp_path / "series"
    series.mkdir()
    (series / "1.dcm").write_bytes(b"a")
    index = FileIndex(tmp_path / "index.sqlite")
    assert index.get(series, "sha256", lambda: "first") == "first"
    index.save()
    (series / "2.dcm").write_bytes(b"b")  # a slice added: the folder's signature changes
    assert FileIndex(tmp_path / "index.sqlite").get(series, "sha256", lambda: "second") == "second"
    calls = []
    nothing = FileIndex(None)
    nothing.get(series, "sha256", lambda: calls.append(1))
    nothing.get(series, "sha256", lambda: calls.append(1))
    nothing.save()
    assert len(calls) == 2 and not (tmp_path / "None").exists()


def test_a_damaged_index_is_only_a_cache(tmp_path):
    (tmp_path / "index.sqlite").write_bytes(b"not a database")
    image = tmp_path / "image.nrrd"
    image.write_bytes(b"x")
    index = FileIndex(tmp_path / "index.sqlite")
    assert index.get(image, "header", lambda: [1, 2]) == [1, 2]
    index.save()
    assert FileIndex(tmp_path / "index.sqlite").get(image, "header", lambda: [3]) == [1, 2]


def test_the_study_fingerprint_follows_the_manifests_files_and_nothing_else(tmp_path):
    from engine.config import parse_config
    from engine.pipeline.inputs import study_fingerprint

    (tmp_path / "images").mkdir()
    (tmp_path / "manifest.csv").write_text("patient_id,label,image_ct,mask\nP1,0,images/P1.nii.gz,images/m1.nii.gz\n")
    (tmp_path / "images" / "P1.nii.gz").write_bytes(b"voxels")
    (tmp_path / "images" / "m1.nii.gz").write_bytes(b"mask")
    config = parse_config({"cohort": {"manifest": "manifest.csv"}})
    first = study_fingerprint(config, tmp_path)
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "run_index.json").write_text("{}")  # a store or a new manifest kept in the folder
    (tmp_path / "new_patients.csv").write_text("patient_id\nP9\n")
    assert study_fingerprint(config, tmp_path) == first
    (tmp_path / "images" / "m1.nii.gz").write_bytes(b"another mask")
    assert study_fingerprint(config, tmp_path) != first


def _size(path: str) -> int:
    return os.path.getsize(path)


def _fails_on_broken(path: str) -> int:
    if path.endswith("broken.nii.gz"):
        raise ValueError("unreadable")
    return os.path.getsize(path)


def test_prefetch_on_workers_fills_what_get_would_compute_and_leaves_failures_to_get(tmp_path):
    files = [tmp_path / f"{k}.nii.gz" for k in range(12)] + [tmp_path / "broken.nii.gz"]
    for k, path in enumerate(files):
        path.write_bytes(b"x" * (k + 1))
    index = FileIndex(tmp_path / "index.sqlite", workers=2)
    index.prefetch([(str(p), "size") for p in files], {"size": _fails_on_broken})

    def must_not_run():
        raise AssertionError("prefetched values are not computed again")

    assert [index.get(p, "size", must_not_run) for p in files[:-1]] == [k + 1 for k in range(12)]
    try:
        index.get(files[-1], "size", lambda: _fails_on_broken(str(files[-1])))
    except ValueError as error:  # the failing file raises where the caller reports it, as without prefetch
        assert "unreadable" in str(error)
    else:
        raise AssertionError("the broken file must raise in get")
    index.save()
    assert FileIndex(tmp_path / "index.sqlite").get(files[3], "size", must_not_run) == 4  # saved like get's values
    calls = []
    one = FileIndex(tmp_path / "other.sqlite", workers=1)  # one worker: nothing prefetched, get computes as before
    one.prefetch([(str(p), "size") for p in files[:4]], {"size": _size})
    assert one.get(files[0], "size", lambda: calls.append(1) or 1) == 1 and calls == [1]
