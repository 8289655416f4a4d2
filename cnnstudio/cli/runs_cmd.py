"""``cnnstudio runs list|show|compare|rename|delete``: the training runs of the runs folder.

RUN is a run's name (a folder of the runs folder) or its folder's path. Everything
printed that came from a run folder is made printable first (:mod:`cnnstudio.cli.text`):
run folders may come from anywhere. See :mod:`cnnstudio.core.training.monitor`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

from cnnstudio.cli.text import printable, table
from cnnstudio.core import files, paths
from cnnstudio.core.errors import InputError
from cnnstudio.core.eta import format_duration
from cnnstudio.core.training import monitor

USES_TENSORFLOW = False
COMPARED = ("loss", "accuracy", "val_loss", "val_accuracy")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "runs",
        help="list, show, compare, rename or delete training runs",
        description=(
            "The training runs in the runs folder: those started from the window, from "
            "the command line or by another machine writing there. RUN is a run's name "
            "or its folder's path."
        ),
    )
    actions = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
    listing = actions.add_parser("list", help="every run with its status and results")
    listing.add_argument("--json", action="store_true", help="print the runs as JSON")
    show = actions.add_parser("show", help="a run's metrics, epoch by epoch")
    show.add_argument("run", metavar="RUN")
    show.add_argument("--json", action="store_true", help="print the run as JSON")
    compare = actions.add_parser("compare", help="runs' metrics side by side, epoch by epoch")
    compare.add_argument("runs", metavar="RUN", nargs="+")
    compare.add_argument("--csv", metavar="FILE", default=None, help="write them as CSV")
    compare.add_argument("--overwrite", action="store_true", help="replace an existing FILE")
    rename = actions.add_parser("rename", help="rename a run's folder")
    rename.add_argument("run", metavar="RUN")
    rename.add_argument("new_name", metavar="NEW_NAME")
    delete = actions.add_parser("delete", help="delete a run's folder (not while it trains)")
    delete.add_argument("run", metavar="RUN")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    return parser


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _params_text(params: dict[str, Any]) -> str:
    short = {"learning_rate": "lr", "batch_size": "batch", "fine_tune": "fine-tune"}
    parts = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "on" if value else "off"
        parts.append(
            f"{short.get(name, name)}={value:g}"
            if isinstance(value, float)
            else f"{short.get(name, name)}={value}"
        )
    return " ".join(parts)


def format_runs(infos: list[monitor.RunInfo]) -> str:
    rows: list[list[Any]] = [
        [
            "name",
            "status",
            "recipe",
            "dataset",
            "epochs",
            "best val",
            "test",
            "time",
            "started",
            "settings",
        ]
    ]
    for info in infos:
        if not info.readable:
            rows.append([info.name, "unreadable", "", "", "", "", "", "", "", info.reason])
            continue
        rows.append(
            [
                info.name,
                info.status,
                info.recipe or "-",
                info.dataset or "-",
                f"{info.epochs_completed}/{info.epochs if info.epochs is not None else '?'}",
                _percent(info.best_val_accuracy),
                _percent(info.test_accuracy),
                "-" if info.duration_seconds is None else format_duration(info.duration_seconds),
                (info.started or "-").replace("T", " ")[:16],
                _params_text(info.params),
            ]
        )
    return table(rows)


def _value(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4f}"


def _history_rows(history: dict[str, list[float]]) -> list[dict[str, Any]]:
    epochs = history.get("epoch", [])
    return [
        {
            name: (int(v[i]) if name == "epoch" else (v[i] if math.isfinite(v[i]) else None))
            for name, v in history.items()
        }
        for i in range(len(epochs))
    ]


def _show(info: monitor.RunInfo, history: dict[str, list[float]], as_json: bool) -> None:
    if as_json:
        print(json.dumps({**info.to_dict(), "history": _history_rows(history)}, indent=2))
        return
    print(format_runs([info]))
    if not info.readable:
        return
    columns = [c for c in history if c not in ("epoch", "wall_time")]
    rows: list[list[Any]] = [["epoch", *columns]]
    for i, epoch in enumerate(history.get("epoch", [])):
        rows.append([int(epoch), *(_value(history[c][i]) for c in columns)])
    print()
    print(table(rows) if len(rows) > 1 else "no finished epoch yet")


def _compare_table(names: list[str], histories: list[dict[str, list[float]]]) -> list[list[Any]]:
    epochs = sorted({int(e) for h in histories for e in h.get("epoch", [])})
    header: list[Any] = ["epoch"]
    for metric in COMPARED:
        header += [f"{name}:{metric}" for name in names]
    rows = [header]
    for epoch in epochs:
        row: list[Any] = [epoch]
        for metric in COMPARED:
            for history in histories:
                values = dict(
                    zip(
                        (int(e) for e in history.get("epoch", [])),
                        history.get(metric, []),
                        strict=False,
                    )
                )
                value = values.get(epoch)
                row.append(None if value is None or not math.isfinite(value) else value)
        rows.append(row)
    return rows


def _compare(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        raise InputError("compare needs at least two runs")
    output = None
    if args.csv:
        output = files.check_output_file(
            args.csv, overwrite=args.overwrite, suffixes=(".csv",), example="runs.csv"
        )
    folders = [monitor.find_run(run) for run in args.runs]
    names = [folder.name for folder in folders]
    if len(set(names)) != len(names):
        names = [str(folder) for folder in folders]
    histories = [monitor.run_history(folder) for folder in folders]
    for name, history in zip(names, histories, strict=True):
        if not history.get("epoch"):
            print(f"cnnstudio: {printable(name)} has no finished epoch", file=sys.stderr)
    rows = _compare_table(names, histories)
    if output is not None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        files.write_bytes(
            output, buffer.getvalue().encode("utf-8", "surrogateescape"), overwrite=args.overwrite
        )
        print(f"wrote {printable(output)} ({len(rows) - 1} epochs of {len(names)} runs)")
        return 0
    legend = [f"{i + 1}: {name}" for i, name in enumerate(names)]
    header = ["epoch"] + [f"{m}[{i + 1}]" for m in COMPARED for i in range(len(names))]
    body = [[row[0], *(_value(v) for v in row[1:])] for row in rows[1:]]
    print("\n".join(printable(line) for line in legend))
    print(table([header, *body]))
    return 0


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise InputError(f"{question} needs confirmation: add --yes (no terminal to ask on)")
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        infos = monitor.list_runs()
        if args.json:
            print(json.dumps([info.to_dict() for info in infos], indent=2))
        elif infos:
            print(format_runs(infos))
        else:
            print(f"no runs yet in {printable(paths.runs_dir())}", file=sys.stderr)
        return 0
    if args.action == "compare":
        return _compare(args)
    folder = monitor.find_run(args.run)
    if args.action == "show":
        _show(monitor.read_run(folder), monitor.run_history(folder), args.json)
    elif args.action == "rename":
        target = monitor.rename_run(folder, args.new_name)
        print(f"renamed {printable(folder.name)} to {printable(target.name)}")
    elif args.action == "delete":
        question = f"delete run {printable(folder.name)} ({printable(folder)}) and all its files?"
        if not args.yes and not _confirm(question):
            print("nothing deleted", file=sys.stderr)
            return 0
        monitor.delete_run(folder)
        print(f"deleted {printable(Path(folder).name)}")
    return 0
