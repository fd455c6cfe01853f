"""``python -m napari_sleap_train`` (and ``torchrun -m napari_sleap_train``) runs the CLI."""

import sys

from .cli import main

sys.exit(main())
