"""Flyte tasks and workflows of the diabetes project; `pyflyte --pkgs flyte.workflows package` registers them.

The plain work lives in the `flyte` package and imports no flytekit; this package is the Flyte layer.
"""

from flyte.workflows.local_cache_errors import name_the_cache_in_its_errors
from flyte.workflows.local_cache_patch import recompute_cache_hits_with_missing_outputs
from flyte.workflows.optional_hash_patch import hash_optional_values
from flyte.workflows.parquet_output import write_local_parquet_outputs_atomically

recompute_cache_hits_with_missing_outputs()
hash_optional_values()
name_the_cache_in_its_errors()
write_local_parquet_outputs_atomically()
