"""Work for people: actions due, messages waiting for approval, work on hold."""
