"""Running checks on behalf of a person or a schedule, and the status overview built from the store."""
