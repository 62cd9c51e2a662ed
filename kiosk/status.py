"""The words the service line shows, as enums shared by the services that report them and the views that show
them; each member's value is the last part of its text key (`service.<part>.<value>` in kiosk/i18n)."""
from __future__ import annotations

import enum


class CameraStatus(enum.StrEnum):
    """The camera and the mood model, as the service line reports them."""

    STARTING = "starting"
    OK = "ok"
    DOWN = "down"  # failed or lost; retrying
    ENDED = "ended"  # a file or folder source came to its end
    NO_MODEL = "no_model"  # frames flow, the expression model is unusable: people count and QR only
    OFF = "off"  # [camera] enabled = false

    @property
    def frames_flow(self) -> bool:
        """Whether the camera delivers frames now (the mood gauge may be trusted)."""
        return self in (CameraStatus.OK, CameraStatus.NO_MODEL, CameraStatus.STARTING)


class BrokerStatus(enum.StrEnum):
    """The telemetry publisher's link to the central broker."""

    OFF = "off"  # [mqtt] enabled = false
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    AUTH_FAILED = "auth_failed"
    STOPPED = "stopped"


class ReaderStatus(enum.StrEnum):
    """The card reader: the keyboard wedge, a serial reader or the peripheral board."""

    OFF = "off"
    KEYBOARD = "keyboard"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    INCOMPATIBLE = "incompatible"  # the board's firmware speaks another protocol version
    READER_FAULT = "reader-fault"  # the board reports its card reader broken


class LoyaltyStatus(enum.StrEnum):
    """The loyalty store as opened at start (kiosk.services.shop.open_shop); it holds until the next start."""

    OK = "ok"
    READ_ONLY = "read_only"  # opened read-only: lookups and offers work, nothing is pruned or cached
    UNAVAILABLE = "unavailable"  # damaged or unreadable: every card is unknown, guests get no catalogue offers


# The service line's parts and the status each shows: kiosk/i18n has `service.<part>.<value>` for every member.
SERVICE_PARTS: dict[str, type[enum.StrEnum]] = {
    "camera": CameraStatus, "broker": BrokerStatus, "reader": ReaderStatus, "loyalty": LoyaltyStatus,
}
