"""newsflow: a scheduled news ETL pipeline.

The code lives in the user's top-level folders (``flows/``, ``tasks/``, ``schemas/``,
``expectations/``, ``examples/``); the build maps them to ``newsflow.flows``,
``newsflow.tasks`` and so on, so that nothing named ``tasks`` or ``schemas`` lands at the top
of a user's site-packages.
"""

from newsflow import _quiet  # noqa: F401  (must run before prefect / GX are imported)

__version__ = "0.1.0"
