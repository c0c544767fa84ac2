"""Render sgdlab's measurement records into pages: the CPU/CUDA parity record and the benchmark.

A directive, reading a JSON file at build time and writing reStructuredText:

- ``parity-table``: the latest ``make gpu-check`` record (``docs/_data/parity.json``), its
  provenance, and whether it is stale: made at a commit older than the last commit that
  changed ``examples/`` or ``src/``. With no record, a note saying no CUDA run is recorded.

The benchmark's tables are a Markdown fragment written by ``tools/bench.py`` beside its
record and included by the performance page.

``plot_step_times`` draws the benchmark's step times; the performance page calls it from a
``plot`` directive. Pages that use a directive are re-read when the record changes, and
pages showing freshness also when the last commit touching ``examples/`` or ``src/`` changes,
and pages whose record was missing when the record appears.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from docutils.parsers.rst import Parser
from docutils.utils import new_document
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent.parent
PARITY_RECORD = "docs/_data/parity.json"
BENCH_RECORD = "bench/results/latest.json"
COVERED = ("examples", "src")


# -- reading ------------------------------------------------------------------------------


def load_record(path: Path) -> dict | None:
    """The record at ``path``, or None when there is none; a broken file is an error."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error


def git(root: Path, *args: str) -> tuple[int, str] | None:
    """(exit status, output) of git in ``root``; None when git cannot run there."""
    try:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.returncode, result.stdout.strip()


def covered_commit(root: Path) -> str | None:
    """The last commit that changed the examples or the package, or None without git."""
    answer = git(root, "log", "-1", "--format=%H", "--", *COVERED)
    return answer[1] or None if answer and answer[0] == 0 else None


def freshness(record: dict, root: Path) -> tuple[str, str]:
    """Whether the record covers today's examples: ("fresh" | "stale" | "unknown", why)."""
    made_at = record.get("provenance", {}).get("commit", "unknown")
    if made_at == "unknown":
        return "unknown", "the record was made outside a git checkout, so its age cannot be checked"
    latest = covered_commit(root)
    if latest is None:
        return "unknown", "git (or a git checkout) is not available here, so the record's age cannot be checked"
    if latest == made_at:
        return "fresh", "made at the last commit that changed the examples or the package"
    answer = git(root, "merge-base", "--is-ancestor", latest, made_at)
    if answer is None or answer[0] not in (0, 1):
        return "unknown", f"commit {made_at[:12]} is not in this clone, so the record's age cannot be checked"
    if answer[0] == 0:
        return "fresh", "no commit since it was made changed the examples or the package"
    return "stale", (
        f"it was made at commit {made_at[:12]}, but commit {latest[:12]} changed "
        f"the examples or the package after that; run `make gpu-check` again"
    )


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


def render_parity(record: dict | None, status: tuple[str, str]) -> str:
    """The parity section: a note when nothing is recorded, else provenance, status and table."""
    if record is None:
        return "\n".join(admonition(
            "note",
            "No CUDA run is recorded yet: this site was built without a parity record. Run "
            "``make gpu-check`` on a machine with a CUDA GPU and commit ``docs/_data/parity.json``.",
        ))
    made, state = record.get("provenance", {}), status[0]
    lines = []
    if state == "stale":
        lines += admonition("warning", f"This record is stale: {text(status[1])}.")
    elif state == "unknown":
        lines += admonition("note", f"This record's freshness is unknown: {text(status[1])}.")
    else:
        lines += admonition("note", f"This record is current: {text(status[1])}.")
    commit = made.get("commit", "unknown")
    lines += field_list({
        "GPU": made.get("device"),
        "CUDA": made.get("cuda"),
        "PyTorch": made.get("torch"),
        "Commit": commit[:12] + (" (with uncommitted changes)" if made.get("dirty") else ""),
        "Date": made.get("date"),
        "Tests on both devices": record.get("tests", {}).get("summary"),
        "Tolerance": record.get("tolerance", {}).get("rule"),
        "Result": "every value agreed" if record.get("passed") else "some values differ (see the table)",
    })
    rows, timings = [], 0
    for entry in record.get("examples", []):
        for value in entry.get("values", []):
            if value.get("timing"):
                timings += 1
                continue
            agreed = "yes" if value.get("agree") else "NO"
            rows.append([entry["example"], value["line"], value["cpu"], value["cuda"],
                         f"{value['difference']:.3g}", agreed])
        for problem in entry.get("problems", []):
            rows.append([entry["example"], problem, "", "", "", "NO"])
    if rows:
        lines += table(["Example", "Printed line (# = a number)", "CPU", "CUDA", "Difference", "Agree"],
                       rows, widths="24 36 12 12 8 8")
    else:
        lines += ["The record compares no values.", ""]
    if timings:
        lines += [f"{timings} timing value(s) were recorded but not compared: timings differ by design.", ""]
    return "\n".join(lines)


# -- plotting --------------------------------------------------------------------------------


def plot_step_times(path: Path | str = ROOT / BENCH_RECORD):
    """Draw time per step against parameter count, with the memory limit, per device and momentum.

    The limit is the time the fewest bytes a step must move would take at the bandwidth
    the ``add_`` reference reached at the same size in the same run.
    """
    import matplotlib.pyplot as plt

    record = load_record(Path(path)) or {}
    rows = (record.get("step") or {}).get("results", [])
    panels = sorted({(r["device"], r["momentum"]) for r in rows}, key=lambda k: (k[0], not k[1]))
    if not panels:
        fig, axes = plt.subplots(figsize=(6.4, 2))
        axes.set_axis_off()
        axes.text(0.5, 0.5, "no step benchmark recorded", ha="center")
        return fig
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.4, 4.2 * len(panels)), sharex=True,
                             layout="constrained", squeeze=False)
    for ax, (device, momentum) in zip(axes[:, 0], panels):
        chosen = sorted((r for r in rows if (r["device"], r["momentum"]) == (device, momentum)),
                        key=lambda r: r["total"])
        sizes = [r["total"] for r in chosen]
        limit = [r["bytes"] * r["reference_seconds"] / r["reference_bytes"] * 1e3 for r in chosen]
        ax.plot(sizes, limit, "-", color="0.6", linewidth=6, alpha=0.6,
                label="memory limit (at add_ bandwidth)")
        for name in chosen[0]["seconds"]:
            ax.plot(sizes, [r["seconds"][name] * 1e3 for r in chosen],
                    "o-" if name.startswith("torch") else "s--", label=name)
        ax.set(xscale="log", yscale="log", ylabel="time per step (ms)",
               title=f"{device}, {'with' if momentum else 'without'} momentum")
    axes[-1, 0].set_xlabel("parameters (one tensor)")
    axes[0, 0].legend(fontsize="small")
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


class ParityTable(RecordDirective):
    """``.. parity-table:: [record]``: the CPU/CUDA parity record, with provenance and freshness."""

    default_record = PARITY_RECORD

    def render(self, record, path):
        root = Path(self.config.sgdlab_records_root)
        status = freshness(record, root) if record else ("none", "")
        return render_parity(record, status)

    def state_key(self, path: Path) -> tuple:
        # Freshness is judged against the last commit that changed the examples or src.
        return (path.exists(), covered_commit(Path(self.config.sgdlab_records_root)))


def current_key(key: tuple, path: Path, root: Path) -> tuple:
    """Recompute a stored key today (the commit only where the key holds one)."""
    return (path.exists(), covered_commit(root))[: len(key)]


def outdated_records(app, env, added, changed, removed):
    """Pages whose record appeared or vanished, or whose freshness commit moved."""
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
    app.add_directive("parity-table", ParityTable)
    app.connect("env-get-outdated", outdated_records)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    # env_version: bump when the stored keys change shape, so old environments are rebuilt.
    return {"env_version": 1, "parallel_read_safe": True, "parallel_write_safe": True}
