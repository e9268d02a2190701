"""The tick: due enrollments in batches, what each step does, on one core or many."""
