"""The first docking of each dock in a fresh napari session, after a folder is open.

``gui_blocks.py`` docks in a process that has imported every dock's module already (its
helpers import them), so its "dock it" rows leave out the imports a user's first docking
pays. Here each dock is docked in a fresh interpreter: napari starts, a folder of ``.mat``
slices opens, the event loop runs for ``--wait`` seconds (what a user takes before asking
for a dock; the plugin imports the docks' libraries in the background meanwhile), then the
dock is docked from the event loop. Printed per dock: the GUI thread's CPU time of the docking
call (``time.thread_time``), its wall time, and the libraries it still imported. ``--wait 0``
docks at once, before the background imports start: the first docking as it was without them.

Run (a display is needed; Xvfb works)::

    PYTHONPATH=src xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/bench_first_dock.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DOCKS = (
    "Extract features",
    "Review",
    "Batch extraction",
    "Robustness",
    "Tumour-type model",
    "Feature plots",
)
HEAVY = ("matplotlib", "radiomics", "scipy", "pywt", "magicgui", "sklearn", "pykwalify")

SESSION = """
import sys, time, warnings
from pathlib import Path
warnings.simplefilter("ignore")
import napari
from qtpy.QtWidgets import QApplication

folder, dock, wait = sys.argv[1], sys.argv[2], float(sys.argv[3])
viewer = napari.Viewer(show=True)
viewer.open(folder, plugin="napari-radiomics")
end = time.monotonic() + wait
while time.monotonic() < end:
    QApplication.processEvents()
    time.sleep(0.01)
before = set(sys.modules)
cpu, wall = time.thread_time(), time.perf_counter()
viewer.window.add_plugin_dock_widget("napari-radiomics", dock)
cpu, wall = (time.thread_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000
new = {name.split(".")[0] for name in set(sys.modules) - before}
print(f"{cpu:.0f} {wall:.0f} {','.join(sorted(new & set(sys.argv[4].split(','))))}")
viewer.close()
"""


def first_docking(folder: Path, dock: str, wait: float) -> tuple[float, float, str]:
    """GUI-thread CPU ms, wall ms and the heavy libraries imported, for one fresh session."""
    done = subprocess.run(
        [sys.executable, "-c", SESSION, str(folder), dock, str(wait), ",".join(HEAVY)],
        capture_output=True,
        text=True,
        check=True,
    )
    cpu, wall, *imported = done.stdout.strip().splitlines()[-1].split(" ")
    return float(cpu), float(wall), imported[0] if imported else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=20, help="slices in the folder opened")
    parser.add_argument("--wait", type=float, default=8.0, help="seconds between open and dock")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_open_folder import make_folder

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        make_folder(folder, args.slices)
        print(f"load {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
        print(f"{'dock':<18} {'docked at once':>30} {f'after {args.wait:g} s':>30}")
        for dock in DOCKS:
            at_once = first_docking(folder, dock, 0.0)
            later = first_docking(folder, dock, args.wait)
            cells = [f"CPU {c:4.0f} ms, wall {w:5.0f} ms" for c, w, _ in (at_once, later)]
            print(f"{dock:<18} {cells[0]:>30} {cells[1]:>30}")
            print(f"{'':<18} imported at once: {at_once[2] or '-'}; after: {later[2] or '-'}")
        print(f"load {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
