"""What ``manage.py conveyor_worker`` runs: Django set up first, then the configured app.

Worker processes import this module themselves (``conveyor worker`` starts children that
import the app by name), so each sets Django up before the job modules import models.
``DJANGO_SETTINGS_MODULE`` comes from the environment, as ``manage.py`` sets it.
"""

from __future__ import annotations

import django

from conveyor.contrib.django.conf import get_app

django.setup()
app = get_app()
