from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation"

    def ready(self) -> None:
        # governance may not import generation: the budget reconciler asks jobs' outcomes through this port.
        from generation.selectors.jobs import job_budget_outcomes
        from governance.services.budgets import install_job_outcome_resolver

        install_job_outcome_resolver(job_budget_outcomes)

        # dam may not import generation: its blob housekeeping asks which originals recorded responses still need.
        from dam.selectors.assets import install_blob_holder
        from generation.selectors.jobs import response_output_keys_held

        install_blob_holder(response_output_keys_held)
