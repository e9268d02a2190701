"""A sequence's life: publishing versions, what changes, who sees it, its diagram."""
