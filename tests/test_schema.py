"""A new column is one edit of flyte/schema.py: on a copy of the project whose schema has one more column, the test
fixtures and the synthetic generator make rows with it, and the pipelines (the single-node and distributed training
workflows, batch inference and the command line) train and predict on it, with messages that count it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from flyte.schema import FEATURES, LABEL
from tests.conftest import REPO_ROOT, own_environment
from tests.reference import plain_accuracy, plain_model

EXTRA = "heart_rate"
EXTENDED_FEATURES = [*FEATURES, EXTRA]

# Runs in the copy, with the copy's `flyte`, fixtures and generator first on sys.path; prints what it found as JSON.
SCRIPT = r"""
import json, sys
from pathlib import Path

sys.path[:0] = [".", "benchmarks"]
import pandas as pd
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile
from synthetic import synthetic_csv, write_shards

from flyte import cli
from flyte.bundled import BUNDLED_DATASET
from flyte.dataset import InvalidDatasetError, load_dataset
from flyte.model_file import load_model
from flyte.schema import COLUMNS
from flyte.workflows.distributed import diabetes_xgboost_model_distributed
from flyte.workflows.example import diabetes_xgboost_model
from flyte.workflows.inference import diabetes_xgboost_batch_inference
from tests.conftest import synthetic_rows, write_csv

data = Path(sys.argv[1])
found = {"columns": list(COLUMNS)}
fixture = write_csv(data / "fixture.csv", synthetic_rows(40))
found["fixture_columns"] = list(load_dataset(fixture).columns)
csv = synthetic_csv(2000, data)
write_shards(2000, 3, data / "shards")
single = diabetes_xgboost_model(dataset=FlyteFile(str(csv)))
found["accuracy"], found["model"] = single.accuracy, single.model.path
found["features"] = list(load_model(single.model.path).features)
distributed = diabetes_xgboost_model_distributed(dataset=FlyteDirectory(str(data / "shards")), workers=1)
found["distributed_accuracy"] = distributed.accuracy
found["distributed_features"] = list(load_model(distributed.model.path).features)
patients = write_csv(data / "patients.csv", [line.split(",")[:-1] for line in csv.read_text().splitlines()[:5]])
batch = diabetes_xgboost_batch_inference(model=single.model, patients=FlyteFile(str(patients)))
found["batch"] = batch.predictions.open(pd.DataFrame).all().to_dict(orient="list")
try:
    load_dataset(BUNDLED_DATASET)
except InvalidDatasetError as error:
    found["old_file_error"] = str(error)
found["help"] = cli.build_parser().format_help()
"""


def add_column(schema: str) -> str:
    """The edit a developer makes for a new feature: its type after age's, and its plausible range after age's."""
    with_type = schema.replace('    "age": int,\n', f'    "age": int,\n    "{EXTRA}": int,\n')
    age_range = re.search(r'^    "age": PlausibleRange\(.*\n', with_type, re.M)
    assert with_type != schema and age_range, "flyte/schema.py no longer lists age as the last feature"
    at = age_range.end()
    return with_type[:at] + f'    "{EXTRA}": PlausibleRange(20, 250, "beats per minute"),\n' + with_type[at:]


@pytest.fixture(scope="module")
def extended(tmp_path_factory) -> dict:
    """What the pipelines did on a copy of the project with one more feature column in flyte/schema.py alone."""
    root = tmp_path_factory.mktemp("extended-project")
    shutil.copytree(REPO_ROOT / "flyte", root / "flyte", ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("benchmarks/synthetic.py", "tests/conftest.py"):
        (root / part).parent.mkdir(exist_ok=True)
        shutil.copy(REPO_ROOT / part, root / part)
    schema = root / "flyte" / "schema.py"
    schema.write_text(add_column(schema.read_text()))
    (root / "data").mkdir()
    script = SCRIPT + "\nprint('FOUND ' + json.dumps(found))\n"
    env = own_environment(root / "home", PYTHONPATH=str(root))
    done = subprocess.run([sys.executable, "-c", script, str(root / "data")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=1200)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    found = json.loads(done.stdout.split("FOUND ", 1)[1])
    return {**found, "root": root, "csv": next((root / "data").glob("pima-synthetic-*.csv"))}


@pytest.mark.slow
def test_the_data_and_fixtures_follow_the_schema(extended):
    assert extended["columns"] == [*EXTENDED_FEATURES, LABEL]
    assert extended["fixture_columns"] == extended["columns"]
    data = pd.read_csv(extended["csv"], header=None, names=extended["columns"])
    assert data[EXTRA].between(20, 250).all() and data[EXTRA].nunique() > 100  # drawn over its plausible range
    assert extended["old_file_error"].endswith(
        f"row 1 has {len(FEATURES) + 1} columns, expected {len(FEATURES) + 2} ({', '.join(extended['columns'])})"
    )


@pytest.mark.slow
def test_the_pipelines_train_and_predict_on_the_new_column(extended):
    csv = extended["csv"]
    assert extended["features"] == extended["distributed_features"] == EXTENDED_FEATURES
    assert extended["accuracy"] == pytest.approx(plain_accuracy(csv), abs=1e-12)  # the same split and model
    assert 0.6 < extended["distributed_accuracy"] <= 1
    patients = pd.read_csv(csv, header=None).iloc[:5, :-1]
    batch = pd.DataFrame(extended["batch"])
    assert list(batch.columns) == [*EXTENDED_FEATURES, "predicted", "probability"]
    assert batch[EXTENDED_FEATURES].values.tolist() == patients.values.tolist()
    expected = plain_model(csv).predict_proba(patients.to_numpy())[:, 1]
    np.testing.assert_allclose(batch["probability"], expected, rtol=1e-6)


@pytest.mark.slow
def test_the_command_line_asks_for_the_new_feature(extended):
    assert "--heart-rate VALUE" in extended["help"]
    assert f"one patient (all {len(EXTENDED_FEATURES)} required without --csv)" in extended["help"]
