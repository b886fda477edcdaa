"""A study as data: the YAML files in studies/ (one per study), their schema, and the list of
jobs a study asks for."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from dl2.config.identity import is_plumbing, override_key, parse_overrides
from dl2.errors import ConfigValueError, invalid_yaml
from dl2.paths import STUDY_DIR


@dataclass
class Axis:
    """One swept train.py key: its values in table order, and the sweep.py option that narrows
    it (`--nets net1` for `model`)."""

    key: str = MISSING
    values: list[Any] = MISSING
    option: Optional[str] = None  # noqa: UP045  (OmegaConf reads the annotation)
    label: Optional[str] = None  # noqa: UP045
    # the experiment's own value of the key: a stored job whose overrides do not set it (one
    # run before the axis was declared) has this value in the tables
    default: Optional[Any] = None  # noqa: UP045


@dataclass
class Table:
    """What makes a table's rows and columns. `columns` is `metric` (one column per metric) or
    an axis key (one table per metric, or with `rows: [metric]` one row per metric);
    `split_by` makes one table per value of those axes."""

    rows: list[str] = field(default_factory=list)
    columns: str = "metric"
    split_by: list[str] = field(default_factory=list)


@dataclass
class Plot:
    """A line over the `x` axis, one line per value of `lines`, mean ± std band over seeds.
    `x: metric` puts the study's metrics on the x axis, at their `metric_labels`."""

    x: str = MISSING
    metric: Optional[str] = None  # noqa: UP045  (the metric plotted, unless x is metric)
    lines: list[str] = field(default_factory=list)
    xlabel: Optional[str] = None  # noqa: UP045
    ylabel: Optional[str] = None  # noqa: UP045
    x_scale: float = 1.0


@dataclass
class Bars:
    """Bars of the mean over seeds with ± std whiskers: a group per value of `x`, a bar per
    metric (default: the study's), a panel per value of `panels`; the report's own value of
    each (`reference`) as a black mark beside ours."""

    x: str = MISSING
    metrics: list[str] = field(default_factory=list)
    panels: list[str] = field(default_factory=list)
    ylabel: Optional[str] = None  # noqa: UP045


@dataclass
class Curves:
    """Every job's `metrics` against the training step (from results.json's `history`), one
    colour per setting: the first metric thin, the others with markers."""

    metrics: list[str] = field(default_factory=lambda: ["train/loss", "val/loss"])
    ylabel: Optional[str] = None  # noqa: UP045


@dataclass
class Samples:
    """The text samples (results.json's `samples`) of the best job by `best_by`."""

    best_by: str = "val/loss"
    mode: str = "min"


@dataclass
class Claim:
    """A claim of the report, checked against the study's cells (dl2/studies/claims.py).

    `kind` is compare (a against b, `expect` greater or less), equivalent (a and b the same
    within `margin`), reference (a and the report's own value the same within `margin`), or a
    shape over `over` (the study's `metric`s or an axis key) at the cell `a`: peak (the value
    at `at` above every other point), bumps (each of `at` above both its neighbours),
    symmetric (each point and its mirror about `about` the same within `margin`), flat (every
    point within `margin` of the curve's mean), increasing / decreasing (each point above /
    below the one before). A cell names axis values (`{model: gat, data.noise: 1.0}`; an axis
    left out pools its values per seed) and may set its own `metric` or, as b, a fixed
    `value`; b starts from a's cell. `points` are the positions a shape looks at (default:
    all), by metric label or axis value. `each` makes one claim per value of those axes."""

    id: str = MISSING
    report: str = MISSING  # the report's own words
    kind: str = MISSING
    metric: Optional[str] = None  # noqa: UP045  (default: the study's first metric)
    a: dict[str, Any] = field(default_factory=dict)
    b: Optional[dict[str, Any]] = None  # noqa: UP045
    expect: Optional[str] = None  # noqa: UP045
    margin: Optional[float] = None  # noqa: UP045
    over: Optional[str] = None  # noqa: UP045
    at: list[str] = field(default_factory=list)
    about: Optional[str] = None  # noqa: UP045
    points: list[str] = field(default_factory=list)
    each: list[str] = field(default_factory=list)
    # compare / equivalent: compare each arm's change from its cell with these axis values
    # (per seed: the arm minus the same seed at the arm's cell with these values)
    change_from: dict[str, Any] = field(default_factory=dict)
    method: str = "t"  # t | bootstrap (compare only)


@dataclass
class Study:
    name: str = MISSING
    title: str = MISSING
    description: str = ""
    # the train.py experiment, the fixed overrides, and the swept axes
    experiment: str = MISSING
    overrides: list[str] = field(default_factory=list)
    axes: list[Axis] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])
    # what the tables show: results.json metric names, multiplied by `scale` (100: percent)
    metrics: list[str] = MISSING
    # names for the metrics in tables (and x values in a plot over metrics), e.g. angles
    metric_labels: list[str] = field(default_factory=list)
    metric_name: str = "metric"  # what the labels are ("angle"), as a table heading
    scale: float = 1.0
    digits: int = 2
    table: Table = field(default_factory=Table)
    plot: Optional[Plot] = None  # noqa: UP045
    bars: Optional[Bars] = None  # noqa: UP045
    curves: Optional[Curves] = None  # noqa: UP045
    samples: Optional[Samples] = None  # noqa: UP045
    # results.json entries kept in the store beyond the metrics (history, samples)
    keep: list[str] = field(default_factory=list)
    # cells of the axes' grid the study does not run: [{axis key: value, ...}]
    exclude: list[dict[str, Any]] = field(default_factory=list)
    # the report's own values: [{axis key: value, ..., metric: "93.80 ± 2.16"}]
    reference: list[dict[str, Any]] = field(default_factory=list)
    # the report's claims, each checked with its test in the report (Claim)
    claims: list[Claim] = field(default_factory=list)
    # the results page (docs/results/<page>.md) whose <!-- study:<name> --> block this study
    # fills with its tables and figures
    page: Optional[str] = None  # noqa: UP045
    # cores one job uses well (null: all of them); the runner fills the machine's cores with
    # jobs of this size (dl2/studies/cores.py)
    cores_per_job: Optional[int] = None  # noqa: UP045


def study_names() -> list[str]:
    return sorted(p.stem for p in STUDY_DIR.glob("*.yaml"))


def load_study(name_or_path: str | Path) -> Study:
    """The study `studies/<name>.yaml` (or a YAML file's path), checked against the schema."""
    path = Path(name_or_path)
    if not path.suffix:
        path = STUDY_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigValueError(
            "study", str(name_or_path), "choose one of " + ", ".join(study_names())
        )
    try:
        merged = OmegaConf.merge(OmegaConf.structured(Study), study_file(path))
        study: Study = OmegaConf.to_object(merged)
    except OmegaConfBaseException as err:
        raise ConfigValueError(
            f"study {path.name}", getattr(err, "full_key", "?"), str(err).splitlines()[0]
        ) from None
    keys = {axis.key for axis in study.axes}
    if study.metric_labels and len(study.metric_labels) != len(study.metrics):
        raise ConfigValueError(
            f"study {path.name}: metric_labels",
            study.metric_labels,
            f"must name each of the {len(study.metrics)} metrics",
        )
    if study.table.columns != "metric" and study.table.columns not in keys:
        raise ConfigValueError(
            f"study {path.name}: table.columns",
            study.table.columns,
            "metric or one of the axes: " + ", ".join(sorted(keys)),
        )
    for part in (*[r for r in study.table.rows if r != "metric"], *study.table.split_by):
        if part not in keys:
            raise ConfigValueError(
                f"study {path.name}: table",
                part,
                "must be one of the axes: " + ", ".join(sorted(keys)),
            )
    for i, cell in enumerate(study.exclude):
        check_cell(study, cell, f"study {path.name}: exclude[{i}]")
    from dl2.studies.claim_checks import check_claims  # claims read the schema above

    check_claims(study, f"study {path.name}")
    return study


def study_file(path: Path, seen: tuple[Path, ...] = ()) -> DictConfig:
    """A study file's keys, over those of the study it `extends:` (a declared study's name, or
    a file's path relative to this one), whose keys it keeps unless it sets them (a list is
    replaced whole). A study that extends another names itself."""
    if problem := invalid_yaml(path):
        raise ConfigValueError("study", str(path), f"is not valid YAML: {problem}")
    own = OmegaConf.load(path)
    if not isinstance(own, DictConfig):
        raise ConfigValueError("study", str(path), "must be a mapping of the study's keys")
    parent = own.pop("extends", None)
    if parent is None:
        return own
    where = f"study {path.name}: extends"
    if not isinstance(parent, str) or not parent:
        raise ConfigValueError(where, parent, "name a study of studies/ or a study file")
    base = Path(parent) if Path(parent).suffix else STUDY_DIR / f"{parent}.yaml"
    base = base if base.is_absolute() or not Path(parent).suffix else path.parent / base
    if not base.is_file():
        raise ConfigValueError(where, parent, "choose one of " + ", ".join(study_names()))
    if base.resolve() in seen or base.resolve() == path.resolve():
        raise ConfigValueError(where, parent, "extends itself (a loop of extends)")
    if "name" not in own:
        raise ConfigValueError(
            f"study {path.name}: name", None, "a study that extends another names itself"
        )
    return OmegaConf.merge(study_file(base, (*seen, path.resolve())), own)


def check_cell(study: Study, cell: dict[str, Any], where: str) -> None:
    """Raise ConfigValueError unless every key of `cell` is an axis and its value one of the
    axis' values."""
    axes = {axis.key: axis for axis in study.axes}
    for key, value in cell.items():
        if key not in axes:
            raise ConfigValueError(
                f"{where}", key, "must be one of the axes: " + ", ".join(sorted(axes))
            )
        if str(value) not in map(str, axes[key].values):
            raise ConfigValueError(
                f"{where}.{key}", value, "choose from " + ", ".join(map(str, axes[key].values))
            )


def in_cell(values: dict[str, Any], cell: dict[str, Any]) -> bool:
    """Whether axis values `values` ({key: value}) lie in `cell` (every key of it matches)."""
    return all(str(values.get(k)) == str(v) for k, v in cell.items())


@dataclass(frozen=True)
class StudyJob:
    """One job of a study: its train.py overrides, its axis values and seed."""

    overrides: tuple[str, ...]
    values: tuple[tuple[str, Any], ...]
    seed: int


def expand(
    study: Study,
    extra: list[str] = (),
    seeds: list[int] | None = None,
    narrow: dict[str, list[Any]] | None = None,
) -> list[StudyJob]:
    """Every (axis values, seed) job of the study, in table order; `narrow` keeps only some
    values of some axes, `extra` overrides are added to every job (they become part of the
    settings, so their jobs never mix with the study's own)."""
    narrow = narrow or {}
    for override in extra:  # it would overwrite the axis and merge its cells unseen
        axis = next((a for a in study.axes if a.key == override_key(override)), None)
        if axis is not None:
            raise ConfigValueError(
                "overrides",
                override,
                f"{axis.key} is an axis of study {study.name}: choose its values with "
                + (f"--{axis.option}" if axis.option else "the study file's axes"),
            )
    grids = []
    for axis in study.axes:
        values = list(axis.values)
        if axis.key in narrow:
            unknown = [v for v in narrow[axis.key] if str(v) not in map(str, values)]
            if unknown:
                raise ConfigValueError(
                    axis.option or axis.key,
                    ",".join(map(str, unknown)),
                    "choose from " + ", ".join(map(str, values)),
                )
            values = [v for v in values if str(v) in map(str, narrow[axis.key])]
        grids.append([(axis.key, v) for v in values])
    jobs = []
    for combo in itertools.product(*grids):
        if any(in_cell(dict(combo), cell) for cell in study.exclude):
            continue
        for seed in seeds if seeds is not None else study.seeds:
            overrides = (
                f"experiment={study.experiment}",
                *study.overrides,
                *(f"{k}={_value(v)}" for k, v in combo),
                f"seed={seed}",
                *extra,
            )
            jobs.append(StudyJob(tuple(overrides), tuple(combo), int(seed)))
    return jobs


def _value(value: Any) -> str:
    """An axis value as Hydra override text (null for None)."""
    return "null" if value is None else str(value)


def _metric_order(name: str) -> tuple[int, str]:
    split = name.split("/", 1)[0]
    return (0 if split == "val" else 1 if split.startswith("test") else 2, name)


def inferred_study(name: str, records: list[dict[str, Any]]) -> Study:
    """The study a folder of jobs (any multirun) is, read from its completed jobs: its axes
    are the overrides whose values differ between them, the seed and plumbing aside (values
    in order of first appearance), its metrics those every completed job has (validation,
    then test, then training), its fixed overrides the rest."""
    done = [r for r in records if r.get("status") == "completed"]
    given = [
        {
            k: v
            for k, v in parse_overrides(r.get("overrides", [])).items()
            if k != "seed" and not is_plumbing(f"{k}={v}")
        }
        for r in done
    ]
    keys = list(dict.fromkeys(k for g in given for k in g))
    values = {k: list(dict.fromkeys(g.get(k, "") for g in given)) for k in keys}
    axes = [Axis(key=k, values=v) for k, v in values.items() if len(v) > 1]
    fixed = [f"{k}={v[0]}" for k, v in values.items() if len(v) == 1 and k != "experiment"]
    common = set.intersection(*(set(r.get("metrics") or {}) for r in done)) if done else set()
    metrics = sorted(common, key=_metric_order) or ["val/loss"]
    shared = f" Every job ran with `{' '.join(fixed)}`." if fixed else ""
    return Study(
        name=name,
        title=f"Jobs of {name}",
        description="Mean ± sample std over seeds, n the seeds behind each row; "
        "axes: the overrides that vary between the jobs." + shared,
        experiment=values.get("experiment", [""])[0] or "",
        overrides=fixed,
        axes=axes,
        seeds=sorted({int(r["seed"]) for r in done if isinstance(r.get("seed"), int)}),
        metrics=metrics,
        digits=4,
        # the first metric (validation's first) per value of the first axis, the others
        # splitting a bar further
        bars=Bars(x=axes[0].key, metrics=metrics[:1]) if axes else None,
    )
