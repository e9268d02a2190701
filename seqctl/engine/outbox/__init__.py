"""Messages on their way out: handed to channels, outcomes recorded, retried, reported."""
