"""Kivy-free presenters: each screen's state and logic, tested without a window (tests/kiosk)."""
