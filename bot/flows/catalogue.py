"""Every flow the bot runs, in one registry."""

from __future__ import annotations

from bot.config import Settings
from bot.flows.invite import invite_flows
from bot.flows.model import Flow, FlowRegistry
from bot.flows.onboarding import onboarding_flow
from bot.flows.privacy import privacy_flow
from bot.flows.settings import settings_flow
from bot.people.catch_up import CatchUp


def build_registry(
    settings: Settings, extra: tuple[Flow, ...] = (), catch_up: CatchUp | None = None
) -> FlowRegistry:
    return FlowRegistry(
        (
            onboarding_flow(settings.consent_version, catch_up),
            settings_flow(),
            privacy_flow(settings.consent_version),
            *invite_flows(),
            *extra,
        )
    )
