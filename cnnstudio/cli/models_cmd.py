"""``cnnstudio models list|rename|delete|export|import``: manage the model library.

The library is the folder of trained models (``.keras`` plus JSON sidecar) that Train
writes and Classify and Dream read; see :mod:`cnnstudio.core.library`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cnnstudio.cli.text import printable
from cnnstudio.core import library, paths
from cnnstudio.core.errors import InputError

_COLUMNS = ("name", "recipe", "dataset", "accuracy", "created")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "models",
        help="list, rename, delete, export or import models of the library",
        description=(
            "Manage the model library (trained models as .keras files with a JSON "
            "sidecar). Imported files are checked with the safe loader first."
        ),
    )
    actions = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
    listing = actions.add_parser("list", help="list the models (a table, or --json)")
    listing.add_argument("--json", action="store_true", help="print the entries as JSON")
    rename = actions.add_parser("rename", help="rename a model")
    rename.add_argument("name", help="the model's current name")
    rename.add_argument("new_name", metavar="NEW_NAME", help="its new name")
    delete = actions.add_parser("delete", help="delete a model and its sidecar")
    delete.add_argument("name", help="the model to delete")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    export = actions.add_parser("export", help="copy a model (and its sidecar) out")
    export.add_argument("name", help="the model to export")
    export.add_argument("dest", metavar="DEST", help="a folder or a .keras file path")
    export.add_argument("--overwrite", action="store_true", help="replace existing files")
    imported = actions.add_parser("import", help="check a .keras file and add it")
    imported.add_argument("file", metavar="FILE", help="the .keras file (its .json is copied too)")
    imported.add_argument("--name", default=None, help="the name in the library")
    return parser


def _row(entry: library.ModelEntry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "recipe": entry.meta.get("recipe"),
        "dataset": entry.meta.get("dataset"),
        "accuracy": entry.test_accuracy,
        "created": entry.meta.get("created"),
        "classes": len(entry.class_names),
        "input_size": entry.meta.get("input_size"),
        "path": str(entry.path),
        "damaged": entry.damaged or None,
    }


def format_table(entries: list[library.ModelEntry]) -> str:
    """The entries as an aligned text table (name, recipe, dataset, accuracy, date); text
    from the sidecars escaped (see cli.text), a damaged entry marked as such."""
    rows = [list(_COLUMNS)]
    for entry in entries:
        accuracy = entry.test_accuracy
        created = str(entry.meta.get("created") or "-")
        cells = [
            entry.name,
            "DAMAGED" if entry.damaged else str(entry.meta.get("recipe") or "-"),
            str(entry.meta.get("dataset") or "-"),
            "-" if accuracy is None else f"{accuracy:.1%}",
            created.replace("T", " ")[:16],
        ]
        rows.append([printable(cell) for cell in cells])
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise InputError(f"{question} needs confirmation: add --yes (no terminal to ask on)")
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        entries = library.list_models()
        if args.json:
            print(json.dumps([_row(e) for e in entries], indent=2))
        elif entries:
            print(format_table(entries))
        else:
            print(f"the library is empty ({printable(paths.library_dir())})", file=sys.stderr)
        for entry in entries:
            if entry.damaged:
                print(
                    printable(f"cnnstudio: '{entry.name}' is damaged: {entry.damaged}"),
                    file=sys.stderr,
                )
        return 0
    if args.action == "import":
        entry = library.import_model(args.file)
        if args.name:
            entry = library.rename_model(entry, args.name)
        print(printable(f"imported {args.file} as '{entry.name}' ({entry.path})"))
        return 0
    entry = library.find_model(args.name)
    if args.action == "rename":
        renamed = library.rename_model(entry, args.new_name)
        print(printable(f"renamed '{entry.name}' to '{renamed.name}'"))
    elif args.action == "delete":
        if not args.yes and not _confirm(printable(f"delete '{entry.name}' ({entry.path})?")):
            print("nothing deleted", file=sys.stderr)
            return 0
        library.delete_model(entry)
        print(printable(f"deleted '{entry.name}'"))
    elif args.action == "export":
        path = library.export_model(entry, args.dest, overwrite=args.overwrite)
        print(printable(f"exported '{entry.name}' to {path}"))
    return 0
