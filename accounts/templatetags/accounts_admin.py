"""Template tags for the admin pages."""

from django import template

from ..services.sms_quota import SmsUsage, sms_usage

register = template.Library()


@register.simple_tag
def current_sms_usage() -> SmsUsage:
    """Return the site-wide SMS usage, for the budget banner."""
    return sms_usage()
