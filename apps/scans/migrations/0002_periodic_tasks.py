"""Register the scans app's periodic tasks with django-celery-beat (its DatabaseScheduler).

Idempotent: an existing task of the same name is left as an administrator configured it.
"""

from django.db import migrations

INTERVALS = [
    # (name, task, every, period)
    ("scans: fail stuck scans", "scans.fail_stuck", 5, "minutes"),
    ("scans: reopen expired risk acceptances", "scans.reopen_expired_acceptances", 1, "hours"),
]
CRONTABS = [
    # (name, task, minute, hour): daily, at night
    ("scans: rescan production model versions", "scans.schedule_production_rescans", "0", "3"),
]


def create_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, period in INTERVALS:
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "interval": interval, "enabled": True}
        )
    for name, task, minute, hour in CRONTABS:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*",
            timezone="UTC",
        )
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "crontab": crontab, "enabled": True}
        )


def remove_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    names = [row[0] for row in INTERVALS + CRONTABS]
    PeriodicTask.objects.filter(name__in=names).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scans", "0001_initial"),
        ("django_celery_beat", "0016_alter_crontabschedule_timezone"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
