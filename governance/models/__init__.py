"""Governance models, re-exported. Several modules contribute: append your import and `__all__` names
(keep both sorted) rather than reorganising others'. Safety: `safety.py`."""

from governance.models.audit import GENESIS_HASH, AuditChainHead, AuditCheckpoint, AuditEvent
from governance.models.budgets import Budget, BudgetHold, SpendCounter
from governance.models.ledger import DEFAULT_MODEL, DEFAULT_TIER, DailySpend, LedgerEntry, Price, TokenKind
from governance.models.safety import SafetyConfig

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_TIER",
    "GENESIS_HASH",
    "AuditChainHead",
    "AuditCheckpoint",
    "AuditEvent",
    "Budget",
    "BudgetHold",
    "DailySpend",
    "LedgerEntry",
    "Price",
    "SafetyConfig",
    "SpendCounter",
    "TokenKind",
]
