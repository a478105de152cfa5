"""``python -m engine ...``: demo, cohort synth, extract, train, predict, report, runs."""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import typer
import yaml
from tqdm import tqdm
from typer.core import TyperGroup

from engine.errors import InputNotice, ValidationError
from engine.common.paths import assets_folder


class _FriendlyGroup(TyperGroup):
    """The command group that answers every error in words: a user's mistake (ValidationError) as one message and
    exit status 2; anything else as one line saying where its full traceback was written (``--debug`` prints it)
    and how to report it, exit status 1. The input checks' notes (InputNotice) are printed as ``note: ...``."""

    def invoke(self, ctx: typer.Context):
        with warnings.catch_warnings():
            warnings.simplefilter("always", InputNotice)
            shown = warnings.showwarning
            warnings.showwarning = lambda message, category, *rest, **named: (
                typer.secho(f"note: {message}", fg="yellow", err=True)
                if issubclass(category, InputNotice)
                else shown(message, category, *rest, **named)
            )
            try:
                return super().invoke(ctx)
            except ValidationError as error:
                typer.secho(f"error: {error}", fg="red", err=True)
                raise typer.Exit(2) from None
            except (typer.TyperException, typer.Exit, typer.Abort):  # --help, a mistyped option: typer answers
                raise  # (typer 0.29 brings its own click: the click package's exceptions are other classes)
            except Exception as error:  # noqa: BLE001 - not the user's mistake: said in one line, kept in a file
                if ctx.params.get("debug"):
                    traceback.print_exc()
                typer.secho(
                    f"unexpected error ({type(error).__name__}: {str(error)[:300]}). This is a fault of hcc-study, "
                    f"not of your data or settings: the full traceback is in {_traceback_file()}; run the command "
                    f"again with --debug to print it, and report it with that file to the project's issue tracker.",
                    fg="red",
                    err=True,
                )
                raise typer.Exit(1) from None


def _traceback_file() -> Path:
    """Write the exception being handled to a new file under the system's temporary folder; return its path."""
    folder = Path(tempfile.gettempdir()) / "hcc-study-errors"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    path.write_text(f"hcc-study {' '.join(sys.argv[1:])}\n\n{traceback.format_exc()}", encoding="utf-8")
    return path


app = typer.Typer(
    cls=_FriendlyGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="HCC imaging-study engine.",
)


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="print the full traceback of an unexpected error")):
    """HCC imaging-study engine."""


cohort_app = typer.Typer(no_args_is_help=True, help="Cohorts.")
runs_app = typer.Typer(no_args_is_help=True, help="The run store.")
app.add_typer(cohort_app, name="cohort")
app.add_typer(runs_app, name="runs")
jobs_app = typer.Typer(no_args_is_help=True, help="Studies trained as jobs (one at a time), recorded in the store.")
app.add_typer(jobs_app, name="jobs")
ASSETS = assets_folder()  # the demo config, the study template, the presets (top-level assets/, package data)
# After a study the process holds some 600,000 Python objects (torch, scikit-learn, pandas, the run), and the garbage
# collections of the interpreter's exit walked them all: 2 to 3 s of the cold demo. An exit handler freezes them
# first (frozen objects are left out of collections); it runs only as the process ends, whoever imported this.
atexit.register(gc.freeze)


class Bars:
    """One tqdm bar per stage, for run_study's progress callback."""

    def __init__(self) -> None:
        self.bars: dict[str, tqdm] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        key = stage.split(":")[0]
        bar = self.bars.get(key)
        if bar is None:
            bar = self.bars[key] = tqdm(
                total=total, desc=key, unit="step" if key != "radiomics" else "patient", file=sys.stderr
            )
        bar.total = total
        bar.n = done
        if ":" in stage:
            bar.set_postfix_str(stage.split(":", 1)[1].strip())
        bar.refresh()
        if total and done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


@cohort_app.command("synth")
def cohort_synth(
    out: Path = typer.Option(..., help="folder to write the cohort into"),
    n: int = typer.Option(300),
    centers: int = typer.Option(3),
    phases: str = typer.Option("arterial,portal,delayed"),
    modality: str = typer.Option("ct", help="ct or us"),
    seed: int = typer.Option(0),
) -> None:
    """Write the synthetic HCC cohort (images, masks, clinical data, outcomes) and its manifest."""
    from engine.cohort.synth import SynthSpec, synthesize_cohort

    spec = SynthSpec(
        n=n, centers=centers, phases=tuple(p.strip() for p in phases.split(",")), modality=modality, seed=seed
    )
    with tqdm(total=n, desc="synthetic cohort", unit="patient", file=sys.stderr) as bar:
        manifest = synthesize_cohort(out, spec, progress=bar.update)
    typer.echo(str(manifest))


SCHEDULER_HELP = "a Dask scheduler (tcp://host:port) or local:N (a LocalCluster of N processes) for the whole study"


@app.command()
def train(
    config: Path = typer.Option(..., help="study YAML (assets/study_template.yaml)"),
    store: Path = typer.Option(Path("store"), help="run store folder"),
    workers: int = typer.Option(2),
    scheduler: str = typer.Option(None, help=SCHEDULER_HELP),
    device: str = typer.Option(None, help="auto, cpu or cuda (overrides the config)"),
    force: bool = typer.Option(False),
) -> None:
    """Extract features, train the model grid and store the run (served from the store when unchanged)."""
    from engine.config import load_config
    from engine.store import RunStore
    from engine.pipeline.study import run_study

    bars = Bars()
    try:
        study, base = load_config(config)
        if device:
            study = study.model_copy(update={"device": device})
        run_id = run_study(
            study, base, RunStore(store), workers=workers, scheduler=scheduler, progress=bars, force=force
        )
    finally:
        bars.close()
    typer.echo(run_id)


DEMO_CENTERS = {"centers": 4, "center_shares": (0.35, 0.35, 0.15, 0.15)}  # C3 and C4: two external cohorts


@app.command()
def demo(
    out: Path = typer.Option(Path("demo_study"), help="where the synthetic cohort is written"),
    store: Path = typer.Option(Path("store")),
    n: int = typer.Option(300),
    workers: int = typer.Option(2),
    device: str = typer.Option("auto"),
) -> None:
    """The demo study: synthetic cohort -> extraction -> model grid -> store (seconds on later starts)."""
    from engine.cohort.synth import (
        SYNTH_VERSION,
        SynthSpec,
        new_patients_manifest,
        synthesize_cohort,
        synthesize_new_patients,
    )
    from engine.config import parse_config
    from engine.store import RunStore
    from engine.pipeline.study import run_study

    spec = SynthSpec(n=n, seed=0, **DEMO_CENTERS)
    marker = out / f".complete-n{n}-v{SYNTH_VERSION}"
    if not marker.exists():
        shutil.rmtree(out, ignore_errors=True)
        with tqdm(total=n, desc="synthetic cohort", unit="patient", file=sys.stderr) as bar:
            synthesize_cohort(out, spec, progress=bar.update, workers=workers)
        marker.touch()
    if not new_patients_manifest(out).exists():  # for the Predict page: 12 patients without outcomes
        synthesize_new_patients(new_patients_manifest(out).parent, spec)
    raw = yaml.safe_load((ASSETS / "demo_study.yaml").read_text(encoding="utf-8"))
    raw["device"] = device
    bars = Bars()
    try:
        run_id = run_study(
            parse_config(raw, source="demo_study.yaml"), out.resolve(), RunStore(store), workers=workers, progress=bars
        )
    finally:
        bars.close()
    (Path(store) / "DEMO_RUN").write_text(run_id, encoding="utf-8")
    typer.echo(run_id)


@app.command()
def predict(
    run: str = typer.Option(..., help="run id"),
    manifest: Path = typer.Option(None, help="manifest of the new patients (a run trained on images)"),
    features: Path = typer.Option(None, help="feature table of the new patients (a run trained on a feature table)"),
    store: Path = typer.Option(Path("store")),
    out: Path = typer.Option(Path("predictions_new.csv")),
    workers: int = typer.Option(2),
) -> None:
    """Apply a run's frozen pipelines to new patients (same feature extraction, no refitting)."""
    from engine.common.exports import spreadsheet_safe
    from engine.pipeline.new_patients import predict_new
    from engine.store import RunStore

    if (manifest is None) == (features is None):
        raise ValidationError(
            "predict needs exactly one of --manifest (new patients' images, for a run trained on images) or "
            "--features (a feature table, for a run trained on one)."
        )
    bars = Bars()
    try:
        table = predict_new(RunStore(store).load(run), manifest or features, workers=workers, progress=bars)
    finally:
        bars.close()
    spreadsheet_safe(table).to_csv(out, index=False)
    typer.echo(str(out))


@app.command()
def extract(
    config: Path = typer.Option(..., help="study YAML"),
    out: Path = typer.Option(Path("radiomics.parquet")),
    store: Path = typer.Option(Path("store"), help="its features/ folder is the cache"),
    workers: int = typer.Option(2),
    scheduler: str = typer.Option(None, help=SCHEDULER_HELP),
) -> None:
    """Radiomics features of a study's cohort into a Parquet table (cached per patient)."""
    from engine.cohort.manifest import load_manifest
    from engine.config import load_config
    from engine.features.cache import FeatureCache
    from engine.features.radiomics import extract_cohort
    from engine.features.radiomics import extraction_options
    from engine.store import RunStore

    study, base = load_config(config)
    if not study.cohort.manifest:
        raise ValidationError("extract needs cohort.manifest (images and masks) in the config.")
    cohort = load_manifest(base / study.cohort.manifest, clinical=study.cohort.clinical or None, roi=study.cohort.roi)
    with tqdm(total=len(cohort.table), desc="radiomics", unit="patient", file=sys.stderr) as bar:
        table, failures = extract_cohort(
            cohort,
            **extraction_options(study.radiomics),
            cache=FeatureCache(RunStore(store).feature_cache_dir),
            workers=workers,
            scheduler=scheduler,
            progress=bar.update,
        )
    table.to_parquet(out, index=False)
    for pid, reason in failures.items():
        typer.secho(f"failed: {pid}: {reason}", fg="yellow", err=True)
    typer.echo(f"{out} ({len(table)} patients, {table.shape[1] - 1} features, {len(failures)} failures)")


@app.command()
def report(
    run: str = typer.Option(..., help="run id"),
    store: Path = typer.Option(Path("store")),
    out: Path = typer.Option(Path("report.zip")),
) -> None:
    """A self-contained HTML report with figures and a methods paragraph, zipped with the figure files."""
    from engine.report import report_zip
    from engine.store import RunStore

    data = report_zip(RunStore(store).load(run))
    out.write_bytes(data)
    typer.echo(str(out))


@app.command()
def explain(
    run: str = typer.Option(..., help="run id"),
    model: list[str] = typer.Option(None, help="a model to explain (repeat it); default: the Explanations page's"),
    store: Path = typer.Option(Path("store")),
) -> None:
    """SHAP values of a run's models, computed now and stored with the run (the Explanations page, the case viewer
    and the report then read them instead of computing them on a first visit)."""
    from engine.views.explain import default_model, explain as explain_model, explainable_models
    from engine.store import RunStore

    stored = RunStore(store).load(run)
    models = explainable_models(stored)
    for name in model or ([default_model(models)] if models else []):
        explanation = explain_model(stored, name)
        typer.echo(f"{name}: {explanation.method}")


@runs_app.command("list")
def runs_list(store: Path = typer.Option(Path("store"))) -> None:
    """The runs in the store."""
    from engine.store import RunStore

    table = RunStore(store).list()
    typer.echo(table.to_string(index=False) if len(table) else "no runs")


@runs_app.command("show")
def runs_show(run: str, store: Path = typer.Option(Path("store"))) -> None:
    """A run's metrics (AUC with 95% CI per model and cohort)."""
    from engine.store import RunStore

    loaded = RunStore(store).load(run)
    typer.echo(loaded.metrics.round(3).to_string(index=False))


@runs_app.command("check")
def runs_check(store: Path = typer.Option(Path("store"))) -> None:
    """Verify every run's files against its manifest (SHA-256); exit 1 when one is damaged."""
    from engine.store import RunStore, damaged_message

    runs = RunStore(store)
    damaged = 0
    for run_id in runs.list()["run_id"]:
        problems = runs.problems(run_id)
        damaged += bool(problems)
        typer.echo(damaged_message(run_id, problems) if problems else f"run {run_id}: intact")
    if damaged:
        raise typer.Exit(1)


@runs_app.command("rm")
def runs_rm(run: str, store: Path = typer.Option(Path("store"))) -> None:
    """Remove a run."""
    from engine.store import RunStore

    RunStore(store).remove(run)
    typer.echo(f"removed {run}")


@jobs_app.command("submit")
def jobs_submit(
    config: Path = typer.Option(..., help="study YAML"),
    store: Path = typer.Option(Path("store")),
    user: str = typer.Option("local", help="who starts the job (recorded with it)"),
) -> None:
    """Check a study (config and data) and queue it; prints the job id."""
    from engine.config import load_config
    from engine.pipeline.jobs import JobQueue

    load_config(config)  # the config's own message first, with its file name
    raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    job = JobQueue(store).submit(raw, config.resolve().parent, user=user)
    typer.echo(job.job_id)


@jobs_app.command("list")
def jobs_list(store: Path = typer.Option(Path("store"))) -> None:
    """Every job with its status, who started it, when, its elapsed time and its run."""
    from engine.pipeline.jobs import JobQueue

    jobs = JobQueue(store).list()
    for job in jobs:
        ran = f"{job.elapsed():.0f} s" if job.started else "-"
        typer.echo(
            f"{job.job_id}  {job.status:<11} {job.user:<12} {job.created}  {ran:>7}  {job.run_id or ''}  {job.name}"
        )
    if not jobs:
        typer.echo("no jobs")


@jobs_app.command("cancel")
def jobs_cancel(job: str, store: Path = typer.Option(Path("store"))) -> None:
    """Cancel a queued or running job."""
    from engine.pipeline.jobs import JobQueue

    typer.echo(JobQueue(store).cancel(job).status)


@jobs_app.command("resume")
def jobs_resume(job: str, store: Path = typer.Option(Path("store"))) -> None:
    """Queue an interrupted, failed or cancelled job again (its finished steps are reused)."""
    from engine.pipeline.jobs import JobQueue

    typer.echo(JobQueue(store).resume(job).status)


@jobs_app.command("run")
def jobs_run(
    store: Path = typer.Option(Path("store")),
    workers: int = typer.Option(2, help="cores each job's study uses"),
    parallel: int = typer.Option(1, help="jobs trained at the same time"),
    scheduler: str = typer.Option(None, help=SCHEDULER_HELP),
    once: bool = typer.Option(False, help="run the queued jobs, then stop (else wait for new ones)"),
) -> None:
    """The runner: marks jobs left running by a stopped runner as interrupted, then trains the queued jobs, oldest
    first, `--parallel` at a time (default one)."""
    from engine.common.cluster import check_scheduler
    from engine.pipeline.jobs import JobQueue, run_jobs

    check_scheduler(scheduler)
    queue = JobQueue(store)
    for job in queue.recover():
        typer.echo(f"{job.job_id}: interrupted")
    run_jobs(
        queue,
        parallel=parallel,
        workers=workers,
        scheduler=scheduler,
        once=once,
        ended=lambda job: typer.echo(f"{job.job_id}: {job.status} {job.run_id or job.message}"),
    )


@jobs_app.command("work", hidden=True)
def jobs_work(
    job: str,
    store: Path = typer.Option(Path("store")),
    workers: int = typer.Option(2),
    scheduler: str = typer.Option(None, help=SCHEDULER_HELP),
) -> None:
    """Train one job in this process (started by the runner)."""
    from engine.pipeline.jobs import JobQueue, work

    ended = work(JobQueue(store), job, workers=workers, scheduler=scheduler)
    if ended.status == "failed":
        raise typer.Exit(1)
