"""The device gateway (``hallq devices``): the application that drives a hall's window devices.

LED strips follow the hall's MQTT events (through :class:`hallq.feed.HallFeed`),
call keypads and rating pads act on the queue server's HTTP API. The
devices themselves, real drivers and simulators, are :mod:`device_drivers`.
"""
