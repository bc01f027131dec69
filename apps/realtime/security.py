"""Origin check for WebSockets: cross-origin or missing Origin is refused (403 at handshake) and counted."""

from __future__ import annotations

from typing import Any

from channels.security.websocket import AllowedHostsOriginValidator, OriginValidator

from apps.realtime.state import refused


class CountingOriginValidator(OriginValidator):
    def valid_origin(self, parsed_origin: Any) -> bool:
        valid = super().valid_origin(parsed_origin)
        if not valid:
            refused("origin")
        return valid


def origin_checked(application: Any) -> Any:
    """AllowedHostsOriginValidator (origins from ALLOWED_HOSTS), counting refusals."""
    validator = AllowedHostsOriginValidator(application)
    return CountingOriginValidator(application, validator.allowed_origins)
