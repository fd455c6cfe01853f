"""``python -m napari_sleap_train.cli``: the command line."""

import sys

from . import main

sys.exit(main())
