"""The measurement records on the site: each gallery page's CPU/CUDA parity line, the bench plot.

Each gallery page ends with its parity line, read from the record ``make gpu-check`` writes
(``docs/_data/parity.json``): the GPU, the date and the largest CPU/CUDA difference of that
script, or that no CUDA run is recorded for it (or for its current source). The performance
page draws the benchmark's step times (``bench/results/latest.json``) with ``plot_step_times``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PARITY_RECORD = "docs/_data/parity.json"
PARITY_FRAGMENT = "docs/_data/parity.md"
BENCH_RECORD = "bench/results/latest.json"


def load_record(path: Path) -> dict | None:
    """The record at ``path``, or None when there is none; a broken file is an error."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error


def text(value: object) -> str:
    """A value as reST text, with the characters reST would read as markup escaped.

    >>> text("a*b_c`d|e")
    'a\\\\*b\\\\_c\\\\`d\\\\|e'
    """
    escaped = str(value)
    for mark in ("\\", "*", "`", "|", "_", "<", ">"):
        escaped = escaped.replace(mark, "\\" + mark)
    return escaped


# -- the parity line of each gallery page --------------------------------------------------

NO_RUN = "CPU and CUDA: no CUDA run is recorded yet (``make gpu-check`` on a GPU machine records one)."


def parity_line(record: dict | None, example: str, source: bytes) -> str:
    """One sentence on how this script's CPU and CUDA outputs compared in the parity record.

    >>> parity_line(None, "article/plot_a.py", b"") == NO_RUN
    True
    """
    entry = next((e for e in (record or {}).get("examples", []) if e["example"] == example), None)
    if entry is None:
        return NO_RUN
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
    # Re-read the page when the record changes, appears or vanishes: gpu-check writes this
    # fragment with every record, and it is there (unlike the record) before the first one.
    app.env.note_dependency(root / PARITY_FRAGMENT)
    line = parity_line(load_record(root / PARITY_RECORD), f"{parts[1]}/{script.name}", script.read_bytes())
    source[0] += f"\n\n.. rubric:: Devices\n\n{line}\n"


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


def setup(app):
    app.add_config_value("sgdlab_records_root", str(ROOT), "env")
    app.connect("source-read", add_parity_line)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
