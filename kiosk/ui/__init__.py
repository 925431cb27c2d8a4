"""The Kivy layer of the kiosk: thin screens (.kv per screen) over the presenters in kiosk.presenters."""
