"""`manage.py sms_budget`: SMS sent against the site-wide budgets."""

from django.core.management.base import BaseCommand

from accounts import conf
from accounts.services.sms_quota import sms_usage


class Command(BaseCommand):
    help = "Show SMS sent in the last hour and 24 hours against SMS_BUDGET_HOURLY/DAILY."

    def handle(self, *args, **options) -> None:
        usage = sms_usage()
        self.stdout.write(f"Last hour: {usage.last_hour} of {usage.hourly_limit}")
        self.stdout.write(f"Last 24 h: {usage.last_day} of {usage.daily_limit}")
        self.stdout.write(f"Per phone: at most {conf.abuse_limits().sms_per_phone_daily} in 24 h")
        if usage.exhausted:
            self.stdout.write(self.style.ERROR("Budget reached: no login codes are being sent."))
        else:
            self.stdout.write(self.style.SUCCESS("Within budget."))
