"""Render sgdlab's measurement records into pages: the CPU/CUDA parity record and the benchmark.

- Each gallery page ends with its own parity line, read from ``docs/_data/parity.json``
  (written by ``make gpu-check``): the GPU, the date and the largest CPU/CUDA difference of
  that script, or that no CUDA run is recorded for it (or for its current source). The devices
  page includes the whole record as the Markdown fragment ``docs/_data/parity.md``.
- ``bench-results``: the latest ``make bench`` record (``bench/results/latest.json``): its
  provenance, the targets, the site's build times and the step times. ``plot_step_times``
  draws the step times; the performance page calls it from a ``plot`` directive.
"""

from __future__ import annotations

import json
import hashlib
from pathlib import Path

from docutils.parsers.rst import Parser, directives
from docutils.utils import new_document
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent.parent
PARITY_RECORD = "docs/_data/parity.json"
BENCH_RECORD = "bench/results/latest.json"


# -- reading ------------------------------------------------------------------------------


def load_record(path: Path) -> dict | None:
    """The record at ``path``, or None when there is none; a broken file is an error."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error


# -- writing reStructuredText -------------------------------------------------------------


class Markup(str):
    """Text that is already reStructuredText, so :func:`text` leaves it alone."""


def text(value: object) -> str:
    """A value as reST text, with the characters reST would read as markup escaped."""
    if isinstance(value, Markup):
        return value
    escaped = str(value)
    for mark in ("\\", "*", "`", "|", "_", "<", ">"):
        escaped = escaped.replace(mark, "\\" + mark)
    return escaped


def table(header: list[str], rows: list[list[object]], widths: str | None = None) -> list[str]:
    """A reST list-table."""
    lines = [".. list-table::", "   :header-rows: 1"]
    if widths:
        lines.append(f"   :widths: {widths}")
    lines.append("")
    for row in [header, *rows]:
        cells = [text(cell) if cell != "" else "\\ " for cell in row]
        lines.append(f"   * - {cells[0]}")
        lines += [f"     - {cell}" for cell in cells[1:]]
    return lines + [""]


def admonition(kind: str, message: str) -> list[str]:
    """A reST note or warning."""
    return [f".. {kind}::", "", f"   {message}", ""]


def field_list(fields: dict[str, object]) -> list[str]:
    """A reST field list of the fields that have a value."""
    return [f":{name}: {text(value)}" for name, value in fields.items() if value not in (None, "")] + [""]


def seconds(value: float | None) -> str:
    """A duration for a table."""
    return "not measured" if value is None else f"{value:.2f} s"


def render_provenance(made: dict) -> list[str]:
    """The benchmark's provenance as a field list."""
    load = made.get("load_average_at_start")
    return field_list({
        "Machine": made.get("machine"),
        "Cores": made.get("cores"),
        "PyTorch": f"{made.get('torch')} ({made.get('torch_threads')} threads)",
        "Devices": ", ".join(made.get("devices", [])) + (f" ({made['cuda_device']})" if made.get("cuda_device") else ""),
        "Commit": made.get("commit", "unknown")[:12] + (" (with uncommitted changes)" if made.get("dirty") else ""),
        "Date": made.get("date"),
        "Load average at start": None if not load else f"{load[0]:.2f} (1 min), {load[1]:.2f} (5 min)",
    })


def render_targets(targets: list[dict]) -> list[str]:
    """The targets table."""
    verdict = {True: "met", False: "missed", None: "not measured"}
    rows = [[t["name"], t["target"], t["measured"] or "not measured", verdict[t["met"]]] for t in targets]
    return table(["Target", "Goal", "Measured", "Verdict"], rows, widths="46 12 30 12")


def render_site(site: dict | None) -> list[str]:
    """The site's build times and each example's run time."""
    if not site:
        return ["The site was not measured in this run.", ""]
    ran = site["touched_executed"]
    lines = table(["Build", "Time", "Examples run"], [
        [Markup("cold ``make html``"), seconds(site["cold_build_seconds"]), site["cold_executed"]["ran"]],
        [Markup("no-op ``make html``"), seconds(site["noop_build_seconds"]), site["noop_executed"]["ran"]],
        [f"after changing {site['touched_example']}", seconds(site["touched_build_seconds"]), ran["ran"]],
        [Markup("``make test``"), seconds(site.get("test_seconds")), ""],
    ])
    lines += table(["Gallery example", "Run time (sphinx-gallery)"],
                   [[name, seconds(value)] for name, value in sorted(site["examples"].items())])
    return lines


def render_step(step: dict | None) -> list[str]:
    """Per device: a table of milliseconds per step, and achieved bandwidth of the best."""
    if not step:
        return ["The step was not measured in this run.", ""]
    lines = []
    for device, copy in step["copy_bandwidth"].items():
        rows = [r for r in step["results"] if r["device"] == device]
        names = list(rows[0]["seconds"]) if rows else []
        lines += [f"**{text(device)}**: a copy moves {copy / 1e9:.1f} GB/s; times in ms per ``step()``.", ""]
        body = []
        for row in rows:
            best = min(row["seconds"], key=row["seconds"].get)
            achieved = row["bytes"] / row["seconds"][best]
            body.append([f"{row['total']:.0e}", row["layout"],
                         *[f"{row['seconds'][n] * 1e3:.3f}" for n in names],
                         f"{achieved / 1e9:.1f} ({achieved / copy:.0%})"])
        lines += table(["Params", "Layout", *names, "Best: GB/s (of copy)"], body)
    return lines


BENCH_PARTS = ("provenance", "targets", "site", "step")


def render_bench(record: dict | None, part: str) -> str:
    """One part of the benchmark (see ``BENCH_PARTS``), or a note when there is no record."""
    if record is None:
        return "\n".join(admonition("note", "No benchmark is recorded yet: run ``make bench`` and "
                                    "commit ``bench/results/latest.json``."))
    if part == "provenance":
        return "\n".join(render_provenance(record.get("provenance", {})))
    if part == "targets":
        return "\n".join(render_targets(record.get("targets", [])))
    if part == "site":
        return "\n".join(render_site(record.get("site")))
    return "\n".join(render_step(record.get("step")))


# -- the parity line of each gallery page --------------------------------------------------


def parity_line(record: dict | None, example: str, source: bytes) -> str:
    """One sentence on how this script's CPU and CUDA outputs compared in the parity record.

    >>> parity_line(None, "article/plot_a.py", b"")
    'CPU and CUDA: no CUDA run is recorded yet (``make gpu-check`` on a GPU machine records one).'
    """
    entry = next((e for e in (record or {}).get("examples", []) if e["example"] == example), None)
    if entry is None:
        return "CPU and CUDA: no CUDA run is recorded yet (``make gpu-check`` on a GPU machine records one)."
    if entry.get("source_sha256") != hashlib.sha256(source).hexdigest():
        return ("CPU and CUDA: the recorded CUDA run is of an earlier version of this script; "
                "``make gpu-check`` records the current one.")
    made = record["provenance"]
    verdict = (f"agree (largest difference {entry['largest_difference']:.3g} over {entry['numbers']} numbers)"
               if not entry["problems"] else "DIFFER (see the devices page)")
    return f"CPU and CUDA ({text(made['device'])}, {made['date'][:10]}): the outputs {verdict}."


def add_parity_line(app, docname: str, source: list[str]) -> None:
    """Append the parity line to a generated gallery page (``auto_examples/<section>/plot_x``)."""
    parts = docname.split("/")
    if parts[0] != "auto_examples" or len(parts) != 3 or not parts[2].startswith("plot_"):
        return
    root = Path(app.config.sgdlab_records_root)
    script = root / "examples" / parts[1] / f"{parts[2]}.py"
    if not script.is_file():
        return
    record_path = root / PARITY_RECORD
    if record_path.exists():
        app.env.note_dependency(str(record_path))  # re-read the page when the record changes
    # ... and when it appears or vanishes (see outdated_records).
    keys = app.env.__dict__.setdefault("sgdlab_records_keys", {})
    keys.setdefault(docname, {})[str(record_path)] = (record_path.exists(),)
    line = parity_line(load_record(record_path), f"{parts[1]}/{script.name}", script.read_bytes())
    source[0] += f"\n\n.. rubric:: Devices\n\n{line}\n"


# -- plotting --------------------------------------------------------------------------------


def plot_step_times(path: Path | str = ROOT / BENCH_RECORD):
    """Draw milliseconds per step against parameter count, one panel per device and layout."""
    import matplotlib.pyplot as plt

    record = load_record(Path(path))
    rows = (record or {}).get("step", {}) or {}
    rows = rows.get("results", [])
    panels = sorted({(r["device"], r["tensors"]) for r in rows})
    if not panels:
        fig, axes = plt.subplots(figsize=(6, 2))
        axes.set_axis_off()
        axes.text(0.5, 0.5, "no step benchmark recorded", ha="center")
        return fig
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), sharey=True,
                             layout="constrained", squeeze=False)
    for ax, (device, tensors) in zip(axes[0], panels):
        chosen = sorted((r for r in rows if (r["device"], r["tensors"]) == (device, tensors)),
                        key=lambda r: r["total"])
        for name in chosen[0]["seconds"]:
            ax.plot([r["total"] for r in chosen], [r["seconds"][name] * 1e3 for r in chosen],
                    "o-" if name.startswith("torch") else "s--", label=name)
        ax.set(xscale="log", yscale="log", xlabel="parameters", title=f"{device}, {chosen[0]['layout']}")
    axes[0][0].set_ylabel("time per step (ms)")
    axes[0][-1].legend(fontsize="small")
    return fig


# -- directives ------------------------------------------------------------------------------


class RecordDirective(SphinxDirective):
    """Read a JSON record (path relative to the repository root) and insert its reST."""

    optional_arguments = 1
    default_record = ""

    def record_path(self) -> Path:
        relative = self.arguments[0] if self.arguments else self.default_record
        return Path(self.config.sgdlab_records_root) / relative

    def render(self, record: dict | None, path: Path) -> str:
        raise NotImplementedError

    def state_key(self, path: Path) -> tuple:
        """What, besides the record's content, the rendering depends on."""
        return (path.exists(),)

    def run(self):
        path = self.record_path()
        if path.exists():
            self.env.note_dependency(str(path))  # re-read the page when the record changes
        # Remember what the page was rendered from, to re-read it when that moves (see below).
        keys = self.env.__dict__.setdefault("sgdlab_records_keys", {})
        keys.setdefault(self.env.docname, {})[str(path)] = self.state_key(path)
        try:
            record = load_record(path)
        except ValueError as error:
            logger.warning(str(error), location=self.get_location())
            record = None
        return self.rst_to_nodes(self.render(record, path))

    def rst_to_nodes(self, source: str) -> list:
        """Parse reST into nodes, whatever the page's own markup (MyST pages included)."""
        document = new_document(f"<{self.name} in {self.env.docname}>", self.state.document.settings)
        Parser().parse(source, document)
        return list(document.children)


class BenchResults(RecordDirective):
    """``.. bench-results:: [record]`` with ``:part:`` one of ``BENCH_PARTS``: the latest benchmark."""

    default_record = BENCH_RECORD
    option_spec = {"part": lambda value: directives.choice(value, BENCH_PARTS)}

    def render(self, record, path):
        return render_bench(record, self.options.get("part", "targets"))


def current_key(key: tuple, path: Path, root: Path) -> tuple:
    """Recompute a stored key today."""
    return (path.exists(),)


def outdated_records(app, env, added, changed, removed):
    """Pages whose record appeared or vanished."""
    root = Path(app.config.sgdlab_records_root)
    keys = getattr(env, "sgdlab_records_keys", {})
    return [
        doc for doc, paths in keys.items()
        if doc in env.found_docs
        and any(key != current_key(key, Path(path), root) for path, key in paths.items())
    ]


def purge(app, env, docname):
    getattr(env, "sgdlab_records_keys", {}).pop(docname, None)


def merge(app, env, docnames, other):
    keys = env.__dict__.setdefault("sgdlab_records_keys", {})
    keys.update({d: k for d, k in getattr(other, "sgdlab_records_keys", {}).items() if d in docnames})


def setup(app):
    app.add_config_value("sgdlab_records_root", str(ROOT), "env")
    app.connect("source-read", add_parity_line)
    app.add_directive("bench-results", BenchResults)
    app.connect("env-get-outdated", outdated_records)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    # env_version: bump when the stored keys change shape, so old environments are rebuilt.
    return {"env_version": 1, "parallel_read_safe": True, "parallel_write_safe": True}
