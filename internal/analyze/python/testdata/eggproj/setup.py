from setuptools import setup
setup(
    name="egg-fixture",
    version="0.3.1",
    license="BSD-2-Clause",
    packages=["egg_fixture"],
    classifiers=["License :: OSI Approved :: BSD License"],
)
