"""Launch plans of the diabetes XGBoost workflow: the default one and a nightly retrain.

Both take their inputs from the workflow's defaults, which are values, never local paths: the dataset's is None,
the data set bundled in the image. So they run unchanged inside a cluster.
"""

from flytekit import CronSchedule, LaunchPlan

from flyte.workflows.example import diabetes_xgboost_model

# Retrain every night at 02:00 UTC. Registered inactive: nothing runs until a user activates it with
# `flytectl update launchplan ... --activate` (see the README).
NIGHTLY_RETRAIN_CRON = "0 2 * * *"

# The launch plan pyflyte registers for every workflow, under the workflow's own name.
default_launch_plan = LaunchPlan.get_or_create(diabetes_xgboost_model)

nightly_retrain = LaunchPlan.get_or_create(
    diabetes_xgboost_model,
    name="diabetes_xgboost_model_nightly_retrain",
    schedule=CronSchedule(schedule=NIGHTLY_RETRAIN_CRON),
    auto_activate=False,
)
