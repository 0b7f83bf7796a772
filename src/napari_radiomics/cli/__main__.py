"""`python -m napari_radiomics.cli`: the same command as `napari-radiomics`."""

import sys

from napari_radiomics.cli import main

sys.exit(main())
