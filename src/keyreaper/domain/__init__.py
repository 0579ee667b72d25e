"""Domain objects: frozen dataclasses and the Secret wrapper. No I/O."""

from keyreaper.domain.model import (
    INDICATOR_TYPES,
    KINDS,
    STEPS,
    Attestation,
    Campaign,
    CampaignItem,
    Claim,
    Credential,
    ExposedItem,
    Exposure,
    Finding,
    Fingerprint,
    Indicator,
    ItemAction,
    Liveness,
    UsageEvent,
    UsageVerdict,
)
from keyreaper.domain.secret import Secret

__all__ = [
    "INDICATOR_TYPES",
    "KINDS",
    "STEPS",
    "Attestation",
    "Campaign",
    "CampaignItem",
    "Claim",
    "Credential",
    "ExposedItem",
    "Exposure",
    "Finding",
    "Fingerprint",
    "Indicator",
    "ItemAction",
    "Liveness",
    "Secret",
    "UsageEvent",
    "UsageVerdict",
]
