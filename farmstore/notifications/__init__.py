"""Notifications: an outbox of emails written with the event that caused them, delivered by tick."""
