"""hallq: queue management and self-service kiosks for government service halls.

This light package is what every part of the system shares: the MQTT
contract (:mod:`hallq.contract`), the hall configuration
(:mod:`hallq.hallconfig`), working days and hours, personal-data masking
(:mod:`hallq.privacy`), the HTTP client kiosks and devices use
(:mod:`hallq.client`). It imports neither Flask nor Kivy, nor any other package
of the project: the ``hallq`` command is :mod:`launcher.cli`.
"""

__version__ = "0.1.0"
