"""Flyte tasks and workflows of the diabetes project; `pyflyte --pkgs flyte.workflows package` registers them.

The plain work lives in the `flyte` package and imports no flytekit; this package is the Flyte layer. Importing it
changes nothing in flytekit: each workflow module applies the project's flytekit workarounds itself
(flytekit_workarounds.py).
"""
