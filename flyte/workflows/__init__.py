"""Flyte tasks and workflows of the diabetes project; `pyflyte --pkgs flyte.workflows package` registers them."""
