"""What comes back: events, the HTTP receiver, unsubscribes, the suppression list."""
