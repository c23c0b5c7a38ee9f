"""Template context shared by every page."""

from django.http import HttpRequest

from . import conf


def site(request: HttpRequest) -> dict[str, str]:
    """Return the site name for page titles and headers."""
    return {"site_name": conf.site_name()}
