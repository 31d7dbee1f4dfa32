"""Review decisions move in from governance, rows and all: the model joins dam's state on its old table.

Nothing in the database moves. The content type is renamed so permissions granted on review decisions and the
admin's log entries keep pointing at the model.
"""

import django.db.models.deletion
import django.db.models.manager
from django.conf import settings
from django.db import migrations, models


def content_type_to_dam(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label="dam", model="reviewdecision").exists():
        content_type.objects.filter(app_label="governance", model="reviewdecision").update(app_label="dam")


def content_type_to_governance(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label="governance", model="reviewdecision").exists():
        content_type.objects.filter(app_label="dam", model="reviewdecision").update(app_label="governance")


STATUSES = [
    ("needs_review", "Needs review"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("published", "Published"),
    ("blocked", "Blocked"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("dam", "0008_version_requester_person"),
        ("governance", "0006_review_decision_moves_to_dam"),
        ("tenants", "0004_apikey_created_by_key"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ReviewDecision",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        (
                            "action",
                            models.CharField(
                                choices=[
                                    ("approve", "Approve"),
                                    ("reject", "Reject"),
                                    ("publish", "Publish"),
                                    ("unpublish", "Unpublish"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("from_status", models.CharField(choices=STATUSES, max_length=16)),
                        ("to_status", models.CharField(choices=STATUSES, max_length=16)),
                        ("comment", models.TextField(blank=True)),
                        ("approved_over_newer", models.BooleanField(default=False)),
                        ("actor_label", models.CharField(max_length=200)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "decided_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "decided_by_key",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="tenants.apikey",
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="review_decisions",
                                to="tenants.tenant",
                            ),
                        ),
                        (
                            "version",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="review_decisions",
                                to="dam.assetversion",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "governance_reviewdecision",
                        "ordering": ["id"],
                        "abstract": False,
                        "base_manager_name": "unscoped",
                        "default_manager_name": "unscoped",
                        "indexes": [models.Index(fields=["tenant", "version"], name="review_decision_version")],
                    },
                    managers=[("unscoped", django.db.models.manager.Manager())],
                ),
            ]
        ),
        migrations.RunPython(content_type_to_dam, content_type_to_governance),
    ]
