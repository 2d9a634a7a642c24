"""``python -m lrcourse.assign {labels,student,key,grade}``: see :mod:`lrcourse.assign`."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat

from lrcourse.assign import grade as grading
from lrcourse.assign import notebooks


def _out_name(path):
    """The file a chapter page becomes: its chapter folder's name, then the page's.

    ``book/02_learning_rate/index.ipynb`` -> ``02_learning_rate.ipynb``,
    ``book/02_learning_rate/rules_and_range_test.ipynb`` ->
    ``02_learning_rate-rules_and_range_test.ipynb``; a notebook outside a chapter folder
    keeps its name.
    """
    p = Path(path)
    if p.stem == "index":
        return f"{p.parent.name}.ipynb"
    if p.parent.name[:2].isdigit():
        return f"{p.parent.name}-{p.name}"
    return p.name


def _selection(args):
    if args.exercises is None:
        return None
    return {label.strip() for label in args.exercises.split(",") if label.strip()}


def _check_labels(parser, args):
    """``--exercises`` may name only exercises of the pages given; else list theirs."""
    wanted = _selection(args)
    if wanted is None:
        return
    if not wanted:
        parser.error(f"--exercises: got {args.exercises!r}; give one or more labels, separated by commas")
    known = {label for path in args.notebooks for label, _, _ in notebooks.labels(notebooks.read(path))}
    unknown = sorted(wanted - known)
    if unknown:
        parser.error(
            f"--exercises: no exercise labelled {', '.join(unknown)} in {', '.join(args.notebooks)}; "
            f"their exercises are: {', '.join(sorted(known)) or 'none'} "
            "(python -m lrcourse.assign labels lists them with their kind)"
        )


def cmd_labels(args):
    print(f"{'page':<48} {'label':<24} {'kind':<8} title")
    for path in args.notebooks:
        for label, kind, title in notebooks.labels(notebooks.read(path)):
            print(f"{path:<48} {label:<24} {kind:<8} {title}")
    return 0


def cmd_student(args):
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        source = notebooks.read(path)
        if args.nbgrader:
            nb = notebooks.nbgrader_version(source, keep=_selection(args))
        elif args.otter:
            nb = notebooks.otter_version(source, Path(_out_name(path)).stem, keep=_selection(args))
        else:
            nb = notebooks.student_version(source, keep=_selection(args))
        target = out / _out_name(path)
        nbformat.write(nb, target)
        found = notebooks.labels(notebooks.student_version(source, keep=_selection(args)))
        graded = [label for label, kind, _ in found if kind == "checked"]
        prose = [label for label, kind, _ in found if kind == "prose"]
        print(
            f"{target}: {len(graded)} checked exercise(s): {', '.join(graded) or '-'}; "
            f"{len(prose)} prose question(s): {', '.join(prose) or '-'}"
        )
    return 0


def cmd_key(args):
    from nbclient import NotebookClient

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        source = notebooks.read(path)
        keep = _selection(args)
        nb = source if keep is None else notebooks.select(source, keep, with_solutions=True)
        start = time.perf_counter()
        NotebookClient(
            nb, timeout=args.timeout, resources={"metadata": {"path": str(Path(path).parent)}}
        ).execute()
        nb = notebooks.without_stub_outputs(nb)
        target = out / _out_name(path)
        nbformat.write(nb, target)
        html_note = ""
        if not args.no_html:
            from nbconvert import HTMLExporter
            from nbconvert.preprocessors import TagRemovePreprocessor

            exporter = HTMLExporter()  # cells the website hides (the Colab bootstrap) stay out
            exporter.register_preprocessor(
                TagRemovePreprocessor(remove_cell_tags={"remove-cell"}), enabled=True
            )
            body, _ = exporter.from_notebook_node(nb)
            target.with_suffix(".html").write_text(body)
            html_note = f" and {target.with_suffix('.html').name}"
        print(f"{target}{html_note}: executed in {time.perf_counter() - start:.1f} s")
    return 0


def cmd_grade(args):
    from lrcourse.assign import sandbox

    start = time.perf_counter()
    args.isolation = sandbox.resolve(args.isolation)
    if args.isolation == "none":
        print(
            "warning: no sandbox (bubblewrap is missing or not allowed here): a submission's code can "
            "read any file you can, the checker modules included; grade only trusted submissions so",
            file=sys.stderr,
        )
    scores = grading.grade_folder(
        args.submissions,
        args.reference,
        args.output,
        jobs=args.jobs,
        cell_timeout=args.cell_timeout,
        total_timeout=args.total_timeout,
        call_timeout=args.call_timeout,
        isolation=args.isolation,
        memory_mb=args.memory,
    )
    students = sorted({s.student for s in scores})
    full = sum(1 for name in students if all(s.points == s.max_points for s in scores if s.student == name))
    print(
        f"graded {len(students)} submission(s) in {time.perf_counter() - start:.1f} s; "
        f"{full} with full marks; sandbox: {args.isolation}; reports in {args.output}"
    )
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m lrcourse.assign",
        description="Student versions, answer keys and grading, generated from the chapter notebooks.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "labels", help="list the exercises of chapter pages: label, kind (checked or prose), title"
    )
    p.add_argument("notebooks", nargs="+", help="chapter pages, e.g. book/*/*.ipynb")
    p.set_defaults(run=cmd_labels)

    p = sub.add_parser("student", help="write student versions (solutions removed, checks kept)")
    p.add_argument("notebooks", nargs="+", help="chapter pages, e.g. book/01_gradient_descent/index.ipynb")
    p.add_argument("-o", "--output", required=True, help="folder for the student notebooks")
    p.add_argument("--exercises", help="comma-separated exercise labels for a short assignment sheet")
    tool = p.add_mutually_exclusive_group()
    tool.add_argument(
        "--nbgrader",
        action="store_true",
        help="write nbgrader source notebooks instead: solutions in nbgrader's solution regions, "
        "answer and test cells marked (then run nbgrader generate_assignment on them)",
    )
    tool.add_argument(
        "--otter",
        action="store_true",
        help="write otter-grader master notebooks instead: questions, solution blocks and "
        "silent tests (then run otter assign on them)",
    )
    p.set_defaults(run=cmd_student)

    p = sub.add_parser("key", help="write answer keys: solutions and executed outputs, as notebooks and HTML")
    p.add_argument("notebooks", nargs="+")
    p.add_argument("-o", "--output", required=True, help="folder for the answer keys")
    p.add_argument("--exercises", help="comma-separated exercise labels (the same selection as the sheet)")
    p.add_argument("--timeout", type=int, default=300, help="seconds per cell")
    p.add_argument("--no-html", action="store_true", help="skip the HTML page")
    p.set_defaults(run=cmd_key)

    p = sub.add_parser("grade", help="grade every submitted notebook: its code in a sandbox, the checks here")
    p.add_argument("submissions", help="folder of submitted notebooks (*.ipynb), one per student")
    p.add_argument(
        "--reference",
        required=True,
        help="the student notebook you handed out (student version or sheet): its checked exercises are graded",
    )
    p.add_argument(
        "-o", "--output", required=True, help="folder for scores.csv, scores.json, totals.csv, feedback/"
    )
    p.add_argument("--jobs", type=int, default=None, help="notebooks graded at once (default: CPU count)")
    p.add_argument("--cell-timeout", type=float, default=60, help="seconds before a cell is interrupted")
    p.add_argument("--total-timeout", type=float, default=600, help="seconds for a whole submission")
    p.add_argument(
        "--call-timeout",
        type=float,
        default=10,
        help="seconds for one call of a student's function by a check",
    )
    p.add_argument(
        "--isolation",
        choices=["auto", "bubblewrap", "none"],
        default="auto",
        help="how each submission is sandboxed: bubblewrap (Linux; the default when it works here) "
        "or none (limits only: for trusted submissions)",
    )
    p.add_argument("--memory", type=int, default=2048, help="MB of address space per submission")
    p.set_defaults(run=cmd_grade)

    args = parser.parse_args(argv)
    command = sub.choices[args.command]
    missing = [path for path in getattr(args, "notebooks", []) if not Path(path).is_file()]
    if missing:
        command.error(f"no such notebook: {', '.join(missing)}")
    if getattr(args, "exercises", None) is not None:
        _check_labels(command, args)
    try:
        return args.run(args)
    except ValueError as error:  # a selection that cannot stand alone, say
        command.error(str(error))


if __name__ == "__main__":
    sys.exit(main())
