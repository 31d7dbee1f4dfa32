"""Review decisions belong to the asset library now (dam.ReviewDecision): the model leaves governance's state.

State only: the table `governance_reviewdecision` and its rows stay where they are; dam's 0009 takes the model
over with the same table.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("governance", "0005_backfill_api_key_issuers")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="ReviewDecision")]),
    ]
