"""The compatibility run: this package in other Jupyter stacks and at its oldest dependencies.

``python -m tests.compat.run`` (a step of ``scripts/dev.sh test``) builds the wheel,
prepares the cached environments of :mod:`.envs`, runs the browser smoke tests of
this folder against each frontend, and the non-browser tests in the ``oldest``
environment.
"""
