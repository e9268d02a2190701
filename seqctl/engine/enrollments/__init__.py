"""The life of an enrollment: putting contacts on, taking them off, moving them."""
