"""XGBoost diabetes classifier on Flyte: plain, Flyte-free steps in this package, tasks in `flyte.workflows`."""
