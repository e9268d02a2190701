"""Views that answer questions: reports, status, agenda, doctor, preview, experiments."""
