"""Leads from social channels: Facebook Lead Ads and Zalo Official Account webhooks."""
