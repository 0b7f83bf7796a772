"""Regenerate ``opened_case.png``: a synthetic case opened through the plugin's reader.

Run from the repository root under a display (``xvfb-run -a python docs/images/...``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import napari

from napari_radiomics import write_tumor_mat
from napari_radiomics.io.synthetic import make_synthetic_slice

OUT = Path(__file__).with_name("opened_case.png")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        case = write_tumor_mat(Path(tmp) / "17.mat", make_synthetic_slice(seed=0, label=2))
        viewer = napari.Viewer(show=True)
        viewer.window.resize(1200, 800)
        viewer.open(case, plugin="napari-radiomics")
        viewer.layers.selection.active = viewer.layers[1]  # the mask, ready for the brush
        viewer.scene.camera.zoom *= 1.1
        viewer.screenshot(str(OUT), canvas_only=False)
        viewer.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
