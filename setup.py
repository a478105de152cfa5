"""The package layout pyproject.toml cannot say: ``assets/`` (demo config, study template, PyRadiomics presets) sits at
the top level of the checkout, where a user opens it, and is installed as the package data ``engine/assets``."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[*find_namespace_packages(include=["engine*", "dashboard*"]), "engine.assets", "engine.assets.radiomics"],
    package_dir={"engine.assets": "assets"},
    package_data={"engine.assets": ["*.yaml"], "engine.assets.radiomics": ["*.yaml"]},
)
