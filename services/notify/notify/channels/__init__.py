"""Notification channels: each a plugin behind one interface, chosen by configuration."""
