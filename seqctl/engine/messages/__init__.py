"""What a step says to one contact: rendered content, composers, A/B variants, tracking."""
