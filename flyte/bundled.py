"""The data set shipped inside the package: what every training workflow trains on when no dataset is given.

It lives in flyte/data (provenance and checksum in flyte/data/README.md), so it travels with the code: in a clone, in
the image (the Dockerfile copies flyte/) and in a fast-registration archive.
"""

from pathlib import Path

BUNDLED_DATA_DIR = Path(__file__).resolve().parent / "data"
BUNDLED_DATASET = BUNDLED_DATA_DIR / "pima-indians-diabetes.data.csv"
